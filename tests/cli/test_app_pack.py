"""``modelport app pack``: the package it writes, and its refusals, offline."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from common.packages import generate_platform_key, platform_key_from_pem, verify_app
from tests.cli.helpers import TRANSPORT, run_cli
from tests.support.ports import free_port


@pytest.fixture
def platform(tmp_path: Path) -> tuple[Path, bytes]:
    """A platform key pair: (the .pub file, the private PEM)."""
    pem, line = generate_platform_key()
    public = tmp_path / "platform.pub"
    public.write_text(line + "\n")
    return public, pem


def test_pack_transport_for_the_platform_key(
    config_dir: Path, platform: tuple[Path, bytes]
) -> None:
    public, pem = platform
    result = run_cli("app", "pack", str(TRANSPORT), "--platform-key", str(public))
    assert result.exit_code == 0, result.output
    package = Path(result.stdout.strip())
    assert package.name == "transport-1.0.0.mpapp"
    header = verify_app(io.BytesIO(package.read_bytes()), platform_key_from_pem(pem))
    assert (header.app.name, header.app.version) == ("transport", "1.0.0")


def test_key_may_be_the_api_json_or_the_private_pem(
    tmp_path: Path, config_dir: Path, platform: tuple[Path, bytes]
) -> None:
    public, pem = platform
    key = platform_key_from_pem(pem).public_key
    (tmp_path / "key.json").write_text(json.dumps(key.to_json()))
    private = tmp_path / "platform.key"
    private.write_bytes(pem)
    private.chmod(0o600)
    for i, source in enumerate((tmp_path / "key.json", private)):
        result = run_cli("app", "pack", str(TRANSPORT), "--platform-key", str(source),
                         "-o", f"out{i}.mpapp")
        assert result.exit_code == 0, result.output
        assert f"platform key {key.key_id}" in result.stderr


def _broken_copy(tmp_path: Path) -> Path:
    app = tmp_path / "broken"
    shutil.copytree(TRANSPORT, app)
    return app


def test_unresolved_imports_are_listed_one_per_line(
    tmp_path: Path, config_dir: Path, platform: tuple[Path, bytes]
) -> None:
    app = _broken_copy(tmp_path)
    lines = (app / "app.py").read_text().splitlines()
    (app / "app.py").write_text("\n".join([*lines, "import requests", "import yaml.loader", ""]))
    result = run_cli("app", "pack", str(app), "--platform-key", str(platform[0]))
    assert result.exit_code == 1
    assert f"  app.py:{len(lines) + 1}: requests" in result.stderr.splitlines()
    assert f"  app.py:{len(lines) + 2}: yaml.loader" in result.stderr.splitlines()
    assert not list(tmp_path.glob("*.mpapp*"))


def test_bad_manifest_field_is_named(
    tmp_path: Path, config_dir: Path, platform: tuple[Path, bytes]
) -> None:
    app = _broken_copy(tmp_path)
    toml = (app / "app.toml").read_text().replace('runtime = ">=1.0"', 'runtime = "soon"')
    (app / "app.toml").write_text(toml)
    result = run_cli("app", "pack", str(app), "--platform-key", str(platform[0]))
    assert result.exit_code == 1
    assert "field 'runtime'" in result.stderr and "soon" in result.stderr


def test_missing_folder_and_bad_key_file(tmp_path: Path, config_dir: Path) -> None:
    missing = run_cli("app", "pack", str(tmp_path / "nope"), "--platform-key", "x")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    (tmp_path / "bad.pub").write_text("mp-ed25519 AAAA\n")
    bad = run_cli("app", "pack", str(TRANSPORT), "--platform-key", "bad.pub")
    assert bad.exit_code == 1 and "bad.pub" in bad.stderr and "mp-x25519" in bad.stderr


def test_without_key_file_asks_the_portal(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MODELPORT_URL", url)
    result = run_cli("app", "pack", str(TRANSPORT))
    assert result.exit_code == 4
    assert result.stderr.startswith(f"error: cannot reach the portal at {url}")
