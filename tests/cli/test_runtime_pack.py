"""``modelport runtime pack``: a real runtime image, built by the project's script, signed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from common.packages import TrustedKeys, generate_signing_key, save_private_key, verify_runtime
from modelport.cli import runtime_image
from tests.cli.helpers import run_cli

needs_docker = pytest.mark.usefixtures("docker_engine")  # fails when no engine answers


@pytest.fixture
def publisher(config_dir: Path) -> Path:
    """A publisher key made by the CLI; returns its private key file."""
    assert run_cli("keys", "new").exit_code == 0
    return config_dir / "keys" / "publisher.key"


@pytest.mark.slow
@needs_docker
def test_pack_the_image_the_project_builds(tmp_path: Path, publisher: Path) -> None:
    started = time.monotonic()
    result = run_cli("runtime", "pack", "--key", str(publisher), "--version", "1.0.0")
    assert result.exit_code == 0, result.output
    package = tmp_path / result.stdout.strip()
    assert package.name == "runtime-1.0.0.mprt"
    manifest = verify_runtime(package, TrustedKeys.load(publisher.parent))
    tag = manifest.image_reference
    assert tag.startswith("modelport/runtime:1.0.0-")
    assert manifest.image_digest == runtime_image.inspect(tag).id
    assert manifest.python_version.startswith("3.")
    assert set(manifest.solvers) == {"highs"}
    assert not list(tmp_path.glob(".mprt-*"))  # the saved image is gone
    print(f"runtime pack: {time.monotonic() - started:.1f} s, "
          f"{package.stat().st_size / 1e6:.0f} MB")


def test_bad_version_and_key_fail_before_any_docker_work(tmp_path: Path, publisher: Path) -> None:
    bad = run_cli("runtime", "pack", "img", "--key", str(publisher), "--version", "1.0")
    assert bad.exit_code == 1 and "not a semantic version" in bad.stderr
    missing = run_cli("runtime", "pack", "img", "--key", "nope.key")
    assert missing.exit_code == 2 and "nope.key" in missing.stderr
    publisher.chmod(0o644)
    loose = run_cli("runtime", "pack", "img", "--key", str(publisher))
    assert loose.exit_code == 1 and "chmod 600" in loose.stderr


@needs_docker
def test_unknown_image(publisher: Path) -> None:
    result = run_cli("runtime", "pack", "modelport/no-such-image:0", "--key", str(publisher))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: docker image inspect failed:")
    assert "no-such-image" in result.stderr


@needs_docker
def test_encrypted_key_takes_its_passphrase(tmp_path: Path, config_dir: Path) -> None:
    pem, _ = generate_signing_key("me", passphrase=b"secret words")
    key = tmp_path / "locked.key"
    save_private_key(key, pem)
    image = "modelport/no-such-image:0"
    wrong = run_cli("runtime", "pack", image, "--key", str(key),
                    env={"MODELPORT_KEY_PASSPHRASE": "guess"})
    assert wrong.exit_code == 1 and "cannot read private key" in wrong.stderr
    prompted = run_cli("runtime", "pack", image, "--key", str(key), stdin="secret words\n")
    assert prompted.exit_code == 1 and "docker image inspect failed" in prompted.stderr
