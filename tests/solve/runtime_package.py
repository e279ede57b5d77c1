"""The runtime package of deploy/runtime's image, made once and cached under /tmp by tag.

``docker save`` of the ~500 MB image, packed with ``pack_runtime`` and a throwaway signing
key (solve tests do not check signatures; tests/docker covers that). Usable as a script to
warm the cache: ``python -m tests.solve.runtime_package``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common.packages import generate_signing_key, pack_runtime, signing_key_from_pem

REPO = Path(__file__).resolve().parents[2]
CACHE = Path("/tmp/modelport-solve-runtime")


@dataclass(frozen=True)
class RuntimePackage:
    path: Path
    tag: str
    image_id: str
    version: str


def _out(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout.strip()


def runtime_package() -> RuntimePackage:
    """Build (or reuse) the runtime image and its package file; return where it is."""
    tag = _out(str(REPO / "deploy/runtime/build-runtime-image.sh")).splitlines()[-1]
    image_id = _out("docker", "image", "inspect", "--format", "{{.Id}}", tag)
    version = tag.rsplit(":", 1)[1].rsplit("-", 1)[0]
    path = CACHE / (tag.replace("/", "_").replace(":", "_") + ".mprt")
    if not path.exists():
        _pack(tag, image_id, version, path)
    return RuntimePackage(path, tag, image_id, version)


def _pack(tag: str, image_id: str, version: str, path: Path) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    image_tar = path.with_suffix(".tar")
    try:
        subprocess.run(["docker", "save", "-o", str(image_tar), tag], check=True)
        key = signing_key_from_pem(generate_signing_key()[0], None)
        fields = {"runtime_version": version, "python_version": "3.11", "solvers": {},
                  "image_reference": tag, "image_digest": image_id}
        pack_runtime(image_tar, fields, key, path)
    finally:
        image_tar.unlink(missing_ok=True)


if __name__ == "__main__":
    json.dump(runtime_package().__dict__, sys.stdout, default=str)
