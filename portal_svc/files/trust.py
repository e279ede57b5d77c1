"""What the portal checks uploads with: the platform key, the trusted publisher keys and the
size limits, loaded once at start from :class:`~common.settings.PackageSettings`.

A missing platform key or an empty trusted list does not stop the portal: app (or runtime)
uploads then answer 503 with a message saying which setting to fix, and the rest works. A key
file that is configured and present but unreadable is a broken deployment and fails the start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from common.errors import Unavailable
from common.packages import (
    DEFAULT_LIMITS,
    PackageLimits,
    PlatformPrivateKey,
    TrustedKeys,
    load_platform_key,
)
from common.settings import PackageSettings

log = structlog.get_logger(__name__)
MiB = 1024 * 1024


@dataclass(frozen=True)
class PackageKeys:
    """Keys and limits for checking uploads."""

    trusted: TrustedKeys
    platform_key: PlatformPrivateKey | None
    platform_key_problem: str
    max_runtime_bytes: int
    max_app_bytes: int
    max_case_bytes: int

    @classmethod
    def load(cls, settings: PackageSettings) -> PackageKeys:
        """Read the key files named in ``settings``; raises BadKey for a broken key file."""
        key, problem = _platform_key(settings.platform_key_file)
        path = settings.trusted_keys
        trusted = TrustedKeys.load(path) if path else TrustedKeys()
        if not len(trusted):
            log.warning("no_trusted_keys", hint="set MODELPORT_TRUSTED_KEYS to accept runtimes")
        return cls(trusted, key, problem, settings.max_runtime_mb * MiB,
                   settings.max_app_mb * MiB, settings.max_case_mb * MiB)

    @property
    def runtime_limits(self) -> PackageLimits:
        return replace(DEFAULT_LIMITS, max_image_bytes=self.max_runtime_bytes)

    @property
    def app_limits(self) -> PackageLimits:
        return replace(DEFAULT_LIMITS, max_app_bytes=self.max_app_bytes)

    def require_platform_key(self) -> PlatformPrivateKey:
        """The platform key; Unavailable ``no_platform_key`` when the portal has none."""
        if self.platform_key is None:
            raise Unavailable(self.platform_key_problem, code="no_platform_key")
        return self.platform_key

    def require_trusted(self) -> TrustedKeys:
        """The trusted keys; Unavailable ``no_trusted_keys`` when the list is empty."""
        if not len(self.trusted):
            raise Unavailable(
                "the platform trusts no publisher keys, so it accepts no runtime; the "
                "operator sets MODELPORT_TRUSTED_KEYS", code="no_trusted_keys",
            )
        return self.trusted


def _platform_key(path: str) -> tuple[PlatformPrivateKey | None, str]:
    if not path:
        problem = ("the platform has no key to decrypt apps with, so it accepts no app; the "
                   "operator sets MODELPORT_PLATFORM_KEY_FILE")
    elif not Path(path).exists():
        problem = (f"the platform key file {path} does not exist, so the platform accepts no "
                   "app; the operator creates it or fixes MODELPORT_PLATFORM_KEY_FILE")
    else:
        return load_platform_key(path), ""
    log.warning("no_platform_key", problem=problem)
    return None, problem
