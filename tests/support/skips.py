"""A pytest plugin that fails the run when a test was skipped without leave.

``scripts/test`` loads it (``-p tests.support.skips``). A skip is allowed only when its node id
matches an entry of ``tests/allowed-skips.txt`` (or the file ``MODELPORT_TEST_ALLOWED_SKIPS``
names): one entry a line, ``NODE_ID_PATTERN | REASON``, the pattern an ``fnmatch`` pattern and
the reason required. Expected failures (``xfail``) are not skips. A list that cannot be read
fails the run before any test.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ALLOWED_FILE = Path(__file__).resolve().parents[1] / "allowed-skips.txt"
ENV = "MODELPORT_TEST_ALLOWED_SKIPS"


@dataclass(frozen=True)
class Allowed:
    pattern: str
    reason: str


@dataclass(frozen=True)
class Skip:
    nodeid: str
    reason: str


def allowed_file() -> Path:
    return Path(os.environ.get(ENV) or ALLOWED_FILE)


def read_allowed(path: Path) -> list[Allowed]:
    """The entries of ``path``; raises ValueError naming the line of an entry without reason."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        pattern, _, reason = (part.strip() for part in text.partition("|"))
        if not pattern or not reason:
            raise ValueError(f"{path}:{number}: an entry is 'NODE_ID_PATTERN | REASON', "
                             f"with a reason: {text!r}")
        entries.append(Allowed(pattern, reason))
    return entries


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipGuard:
    """Collects every skip of the run and fails the run for those not allowed."""

    def __init__(self, allowed: list[Allowed]) -> None:
        self.allowed = allowed
        self.skips: list[Skip] = []

    def _record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append(Skip(report.nodeid, _reason(report)))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def forbidden(self) -> list[Skip]:
        return [s for s in self.skips
                if not any(fnmatch.fnmatchcase(s.nodeid, a.pattern) for a in self.allowed)]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.forbidden() and session.exitstatus in (0, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        forbidden = self.forbidden()
        if not forbidden:
            return
        terminalreporter.section("skips not allowed", sep="=", red=True)
        terminalreporter.line(f"A skipped test fails the run unless {allowed_file()} allows it:")
        for skip in forbidden:
            terminalreporter.line(f"SKIPPED {skip.nodeid}: {skip.reason}")


def pytest_configure(config: pytest.Config) -> None:
    try:
        allowed = read_allowed(allowed_file())
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"allowed skips: {exc}") from None
    config.pluginmanager.register(SkipGuard(allowed), "modelport-skip-guard")
