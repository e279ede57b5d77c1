"""docs/operations.md names every setting each service reads (so the tables cannot drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from backend_svc.settings import BackendSettings
from common.settings import S3Settings
from modelport.cli.settings import CliSettings
from portal_svc.settings import PortalSettings
from session_svc.settings import SessionSettings
from solve_svc.settings import SolveSettings

DOC = Path(__file__).parents[2] / "docs" / "operations.md"
CLASSES = [BackendSettings, PortalSettings, SessionSettings, SolveSettings, S3Settings, CliSettings]


@pytest.mark.parametrize("settings", CLASSES, ids=lambda c: c.__name__)
def test_every_setting_is_documented(settings: type[BaseSettings]) -> None:
    text = DOC.read_text()
    prefix = str(settings.model_config.get("env_prefix", ""))
    missing = [
        f"{prefix}{name.upper()}" for name in settings.model_fields
        if f"`{prefix}{name.upper()}`" not in text
    ]
    assert not missing, f"add to docs/operations.md: {missing}"
