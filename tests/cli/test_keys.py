"""``modelport keys new|platform``: key files, modes, ids, and no overwriting."""

from __future__ import annotations

from pathlib import Path

from common.packages import (
    PlatformPublicKey,
    PublisherKey,
    load_platform_key,
    load_signing_key,
)
from tests.cli.helpers import run_cli


def test_new_publisher_key_goes_to_the_config_dir(config_dir: Path) -> None:
    result = run_cli("keys", "new")
    assert result.exit_code == 0, result.output
    private, public = config_dir / "keys" / "publisher.key", config_dir / "keys" / "publisher.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    key_id = result.stdout.strip()
    assert PublisherKey.from_text(public.read_text()).key_id == key_id
    assert load_signing_key(private).key_id == key_id
    assert str(private) in result.stderr


def test_new_key_with_name_and_folder_never_replaces_one(tmp_path: Path, config_dir: Path) -> None:
    first = run_cli("keys", "new", "--out", "mine", "--name", "alice", "--comment", "a@b")
    assert first.exit_code == 0, first.output
    assert (tmp_path / "mine" / "alice.pub").read_text().strip().endswith(" a@b")
    before = (tmp_path / "mine" / "alice.key").read_bytes()
    again = run_cli("keys", "new", "--out", "mine", "--name", "alice")
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ") and "exists" in again.stderr
    assert (tmp_path / "mine" / "alice.key").read_bytes() == before


def test_platform_key(tmp_path: Path, config_dir: Path) -> None:
    result = run_cli("keys", "platform", "--out", "plat")
    assert result.exit_code == 0, result.output
    private = load_platform_key(tmp_path / "plat" / "platform.key")
    public = PlatformPublicKey.from_text((tmp_path / "plat" / "platform.pub").read_text())
    assert private.public_key == public
    assert result.stdout.strip() == public.key_id
    assert f"age recipient: {public.to_age()}" in result.stderr
