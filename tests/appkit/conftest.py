"""Fixtures: the example apps, loaded once per test session (they need no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.appkit import LoadedApp, load_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def transport() -> LoadedApp:
    return load_app(EXAMPLES / "transport")


@pytest.fixture(scope="session")
def facility() -> LoadedApp:
    return load_app(EXAMPLES / "facility-location")


@pytest.fixture(scope="session")
def sleeper() -> LoadedApp:
    return load_app(EXAMPLES / "sleeper")
