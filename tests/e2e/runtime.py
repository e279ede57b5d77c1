"""The real runtime image as a package the e2e platform accepts, made once and cached.

The examples ask for ``runtime >= 1.0``, so the image is built as version 1.0.0
(``deploy/runtime/build-runtime-image.sh 1.0.0``), saved, and signed with a publisher key
kept next to the package; the e2e stack trusts that key. Cached under /tmp by image tag, so
an unchanged runtime is neither rebuilt nor re-packed. Usable as a script to warm the cache:
``python -m tests.e2e.runtime``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common.packages import generate_signing_key, pack_runtime, signing_key_from_pem
from common.packages.keys import save_private_key, save_public_key

REPO = Path(__file__).resolve().parents[2]
CACHE = Path("/tmp/modelport-e2e-runtime")
VERSION = "1.0.0"


@dataclass(frozen=True)
class E2ERuntime:
    package: Path  # the signed runtime package (.mprt)
    trusted_keys: Path  # a folder holding the public key that signed it
    tag: str
    image_id: str
    version: str


def _out(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout.strip()


def e2e_runtime() -> E2ERuntime:
    """Build (or reuse) the 1.0.0 runtime image and its signed package; return where it is."""
    tag = _out(str(REPO / "deploy/runtime/build-runtime-image.sh"), VERSION).splitlines()[-1]
    image_id = _out("docker", "image", "inspect", "--format", "{{.Id}}", tag)
    folder = CACHE / tag.replace("/", "_").replace(":", "_")
    package = folder / "runtime.mprt"
    if not package.exists():
        _pack(tag, image_id, folder, package)
    return E2ERuntime(package, folder / "trusted", tag, image_id, VERSION)


def _pack(tag: str, image_id: str, folder: Path, package: Path) -> None:
    (folder / "trusted").mkdir(parents=True, exist_ok=True)
    pem, public = generate_signing_key("e2e publisher")
    save_private_key(folder / "publisher.pem", pem, overwrite=True)
    save_public_key(folder / "trusted" / "publisher.pub", public)
    image_tar = folder / "image.tar"
    try:
        subprocess.run(["docker", "save", "-o", str(image_tar), tag], check=True)
        fields = {"runtime_version": VERSION, "python_version": "3.11",
                  "solvers": {"highs": "bundled"}, "image_reference": tag,
                  "image_digest": image_id}
        pack_runtime(image_tar, fields, signing_key_from_pem(pem), package)
    finally:
        image_tar.unlink(missing_ok=True)


if __name__ == "__main__":
    json.dump(e2e_runtime().__dict__, sys.stdout, default=str)
