"""Keys, a fake image and a small app for the package tests (no servers needed)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from common.packages import (
    PlatformPrivateKey,
    SigningKey,
    TrustedKeys,
    generate_platform_key,
    generate_signing_key,
    platform_key_from_pem,
    signing_key_from_pem,
)

APP_TOML = """\
name = "demo-app"
version = "1.2.0"
title = "Demo app"
runtime = ">=1.0,<2"
entry = "demo.main:app"
"""

APP_FILES = {
    "app.toml": APP_TOML,
    "demo/__init__.py": "",
    "demo/main.py": (
        "import json\n"
        "import numpy as np\n"
        "from modelport import appkit\n"
        "from . import model\n"
        "from .model import solve\n"
        "import helpers\n"
        "app = model.build()\n"
    ),
    "demo/model.py": "import highspy\n\ndef build():\n    return 1\n\ndef solve():\n    pass\n",
    "helpers.py": "import os.path\n\ndef double(x):\n    return 2 * x\n",
    "data/default.json": '{"demand": [1, 2, 3]}\n',
}


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return signing_key_from_pem(generate_signing_key("tests")[0])


@pytest.fixture(scope="session")
def other_signing_key() -> SigningKey:
    return signing_key_from_pem(generate_signing_key("stranger")[0])


@pytest.fixture(scope="session")
def trusted(signing_key: SigningKey) -> TrustedKeys:
    return TrustedKeys([signing_key.public_key])


@pytest.fixture(scope="session")
def platform_key() -> PlatformPrivateKey:
    return platform_key_from_pem(generate_platform_key()[0])


@pytest.fixture(scope="session")
def other_platform_key() -> PlatformPrivateKey:
    return platform_key_from_pem(generate_platform_key()[0])


@pytest.fixture
def fake_image(tmp_path: Path) -> Path:
    """A small tar shaped like ``docker save`` output (content is random)."""
    path = tmp_path / "image.tar"
    with tarfile.open(path, "w") as tar:
        for name, size in (("manifest.json", 200), ("blobs/sha256/abc", 150_000)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))
    return path


@pytest.fixture
def runtime_fields() -> dict[str, Any]:
    return {
        "runtime_version": "1.4.0",
        "python_version": "3.11.7",
        "solvers": {"highs": "1.7.2"},
        "image_reference": "modelport/runtime:1.4.0",
        "image_digest": "sha256:" + hashlib.sha256(b"config").hexdigest(),
        "created": "2024-05-01T12:00:00Z",
    }


def write_app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A small valid app with things the packer must skip (.git, __pycache__, dotfiles)."""
    root = write_app(tmp_path / "app", APP_FILES)
    write_app(root, {".git/config": "x", "demo/__pycache__/main.cpython-311.pyc": "x"})
    write_app(root, {".env": "SECRET=1", "demo/old.pyc": "x"})
    return root
