"""Versions and runtime requirements.

Runtime and app versions are SemVer 2.0.0 strings (``1.2.3``, ``1.0.0-rc.1``, ``2.0.0+build.7``)
that PEP 440 can also read, so a requirement such as ``>=1.0,<2`` (a PEP 440 specifier set,
evaluated with ``packaging``) decides which runtimes an app runs on.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_NUM = r"(?:0|[1-9]\d*)"
_PRE = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_RE = re.compile(
    rf"^{_NUM}\.{_NUM}\.{_NUM}"
    rf"(?:-{_PRE}(?:\.{_PRE})*)?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def check_semver(text: str) -> str:
    """Return ``text`` if it is a SemVer that PEP 440 also reads; else raise ``ValueError``."""
    if not SEMVER_RE.match(text):
        raise ValueError(f"{text!r} is not a semantic version like 1.2.3")
    try:
        Version(text)
    except InvalidVersion:
        raise ValueError(
            f"{text!r}: use a pre-release PEP 440 understands (-alpha.1, -beta.2, -rc.1)"
        ) from None
    return text


def check_requirement(text: str) -> str:
    """Return ``text`` if it is a non-empty specifier set (``>=1.0``); else raise ``ValueError``."""
    if not text.strip():
        raise ValueError("empty requirement; write e.g. '>=1.0'")
    if any(not part.strip() for part in text.split(",")):
        raise ValueError(f"{text!r} is not a version requirement like '>=1.0,<2': empty clause")
    try:
        SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ValueError(f"{text!r} is not a version requirement like '>=1.0,<2': {exc}") from None
    return text


def runtime_satisfies(requirement: str, runtime_version: str) -> bool:
    """Whether a runtime of ``runtime_version`` meets ``requirement``.

    A plain ordering test: pre-releases sort before their release (``1.0.0-rc.1 < 1.0.0``) and
    are not excluded. Raises ``ValueError`` if either string is malformed.
    """
    spec = SpecifierSet(check_requirement(requirement))
    return spec.contains(Version(check_semver(runtime_version)), prereleases=True)
