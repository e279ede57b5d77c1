"""The local Docker work behind ``modelport runtime pack``: build, inspect, probe and save.

Everything runs through the ``docker`` command against the local engine (``DOCKER_HOST`` is
honoured); nothing is pulled, and the probe container runs without a network.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import modelport
from modelport.client import Progress

BUILD_SCRIPT = Path("deploy") / "runtime" / "build-runtime-image.sh"
VERSION_LABEL = "org.modelport.runtime.version"
PROBE = (
    "import json, platform, importlib.metadata as m; "
    "print(json.dumps({'python': platform.python_version(), 'highspy': m.version('highspy')}))"
)
CHUNK = 1 << 20


class DockerFailed(Exception):
    """A docker command failed; the message says which and why (its stderr's last line)."""


@dataclass(frozen=True)
class ImageInfo:
    """What ``docker image inspect`` says of an image that matters to a runtime manifest."""

    id: str
    tags: list[str]
    size: int
    labels: dict[str, str]


def build_script() -> Path:
    """The project's runtime build script next to this source tree; DockerFailed if absent."""
    script = Path(modelport.__file__).resolve().parents[1] / BUILD_SCRIPT
    if not script.is_file():
        raise DockerFailed(f"{BUILD_SCRIPT} is not here (installed without the source tree?): "
                           "build the image yourself and name it as IMAGE")
    return script


def build(version: str | None) -> str:
    """Build (or find, it is cached by content) the runtime image; return its tag.

    The script's progress goes straight to this process's stderr.
    """
    args = [str(build_script())] + ([version] if version else [])
    done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise DockerFailed(f"{BUILD_SCRIPT} failed with status {done.returncode}")
    return lines[-1].strip()


def _docker(*args: str, timeout_s: float = 300) -> str:
    what = " ".join(args[:2] if args[0] == "image" else args[:1])
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise DockerFailed("the docker command is not installed") from None
    except subprocess.TimeoutExpired:
        raise DockerFailed(f"docker {what} took more than {timeout_s:g} s") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DockerFailed(f"docker {what} failed: {reason}")
    return done.stdout


def inspect(image: str) -> ImageInfo:
    """The id, tags, size and labels of a local image; DockerFailed when there is none."""
    data = json.loads(_docker("image", "inspect", image))[0]
    labels = (data.get("Config") or {}).get("Labels") or {}
    return ImageInfo(str(data["Id"]), list(data.get("RepoTags") or []), int(data.get("Size", 0)),
                     {str(k): str(v) for k, v in labels.items()})


def probe(image: str) -> tuple[str, str]:
    """(Python version, highspy version) inside the image, from a throw-away container."""
    out = _docker("run", "--rm", "--network", "none", image, "python", "-c", PROBE)
    try:
        found = json.loads(out.strip().splitlines()[-1])
        return str(found["python"]), str(found["highspy"])
    except (ValueError, KeyError, IndexError):
        raise DockerFailed(f"{image}: the version probe printed {out.strip()[:200]!r}") from None


def save(image: str, dest: Path, progress: Progress, estimate: int | None = None) -> int:
    """``docker save image`` into ``dest`` in chunks; return the bytes written."""
    progress.start(estimate)
    written = 0
    with dest.open("wb") as out, subprocess.Popen(
        ["docker", "save", image], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        while data := child.stdout.read(CHUNK):
            out.write(data)
            written += len(data)
            progress.advance(len(data))
        error = child.stderr.read().decode(errors="replace").strip()
    if child.returncode != 0:
        raise DockerFailed(f"docker save failed: {error or 'status ' + str(child.returncode)}")
    return written
