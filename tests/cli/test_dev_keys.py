"""``dev up``'s package keys: made once in the state dir, handed to the services that use them."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from common.packages import TrustedKeys, load_platform_key, load_signing_key
from modelport.devstack import plan, runner
from modelport.devstack.stack import Stack
from modelport.devstack.state import StateDir


def test_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.prepare()
    keys = state.keys()
    assert keys == state.keys()
    platform_id = load_platform_key(keys.platform_key).key_id
    publisher_id = load_signing_key(keys.publisher_key).key_id
    again = state.keys()
    assert load_platform_key(again.platform_key).key_id == platform_id
    assert TrustedKeys.load(keys.trusted_dir).key_ids == [publisher_id]
    for private in (keys.platform_key, keys.publisher_key):
        assert private.stat().st_mode & 0o777 == 0o600
    assert keys.platform_key.parent.stat().st_mode & 0o077 == 0


def test_services_but_backend_get_the_keys(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.prepare()
    err = io.StringIO()
    stack = Stack(state, detach=True, out=Console(file=io.StringIO()),
                  err=Console(file=err, soft_wrap=True))
    keyed = runner._key_env(stack, {})
    keys = state.keys()
    assert keyed == {"MODELPORT_PLATFORM_KEY_FILE": str(keys.platform_key),
                     "MODELPORT_TRUSTED_KEYS": str(keys.trusted_dir)}
    assert str(keys.publisher_key) in err.getvalue()
    ports = {"backend": 1, "session": 2, "solve": 3, "portal": 4}
    specs = {s.name: s for s in plan.build_specs(ports, {}, {}, {}, keyed)}
    assert "MODELPORT_PLATFORM_KEY_FILE" not in specs["backend"].env
    for name in ("session", "solve", "portal"):
        assert specs[name].env["MODELPORT_TRUSTED_KEYS"] == str(keys.trusted_dir)


def test_keys_named_by_the_environment_win(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.prepare()
    stack = Stack(state, detach=True, out=Console(file=io.StringIO()),
                  err=Console(file=io.StringIO()))
    env = {"MODELPORT_PLATFORM_KEY_FILE": "/etc/p.key", "MODELPORT_TRUSTED_KEYS": "/etc/t"}
    assert runner._key_env(stack, env) == {}
