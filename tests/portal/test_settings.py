"""PortalSettings: environment names, the cookie key check, and the generated key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from portal_svc.settings import PortalSettings
from portal_svc.web_session import cookie_key


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("MODELPORT_PORT", "9090")
    monkeypatch.setenv("MODELPORT_COOKIE_SECRET", key)
    monkeypatch.setenv("MODELPORT_PUBLIC_URL", "https://portal.example/")
    settings = PortalSettings()
    assert settings.port == 9090 and cookie_key(settings) == key
    assert settings.public_url == "https://portal.example" and settings.secure_cookies
    assert key not in repr(settings)


@pytest.mark.parametrize("bad", ["short", "!" * 44, "c2hvcnQ="])
def test_a_bad_cookie_key_fails_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError, match="cookie_secret"):
        PortalSettings(cookie_secret=bad)


def test_no_cookie_key_means_a_random_one_per_start() -> None:
    first, second = cookie_key(PortalSettings()), cookie_key(PortalSettings())
    assert first != second
    Fernet(first.encode())  # a usable key
