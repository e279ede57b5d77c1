"""Fixtures of the CLI tests: an empty config dir, a clean environment, a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import CLEARED_ENV


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELPORT_CONFIG_DIR; the test runs in ``tmp_path`` with no MODELPORT_URL/TOKEN."""
    config = tmp_path / "config"
    monkeypatch.setenv("MODELPORT_CONFIG_DIR", str(config))
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return config
