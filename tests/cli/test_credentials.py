"""The credentials file: where it lives, its mode, and the environment's overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.client import credentials as creds
from modelport.client.credentials import Credentials


def test_saved_file_is_private_and_read_back(config_dir: Path) -> None:
    path = creds.save(Credentials("http://portal:1/", "tok", "ann"))
    assert path == config_dir / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert config_dir.stat().st_mode & 0o077 == 0
    assert json.loads(path.read_text()) == {"url": "http://portal:1", "token": "tok",
                                            "username": "ann"}
    assert creds.current() == Credentials("http://portal:1", "tok", "ann")
    assert creds.delete() and not path.exists() and not creds.delete()


def test_environment_overrides_the_file(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert creds.current() == Credentials(creds.DEFAULT_URL)
    creds.save(Credentials("http://file", "file-token", "ann"))
    monkeypatch.setenv("MODELPORT_URL", "http://env/")
    monkeypatch.setenv("MODELPORT_TOKEN", "env-token")
    assert creds.current() == Credentials("http://env", "env-token", "")


def test_config_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert creds.config_dir({"HOME": "/h"}).name == "modelport"
    assert creds.config_dir({"XDG_CONFIG_HOME": "/x"}) == Path("/x/modelport")
    assert creds.config_dir({"MODELPORT_CONFIG_DIR": "/c", "XDG_CONFIG_HOME": "/x"}) == Path("/c")


def test_unreadable_file_counts_as_signed_out(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "credentials.json").write_text("{not json")
    assert creds.read_file() is None
    assert creds.current().token == ""
