"""The host-side parser and the progress throttle, in process."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from modelport.agent import (
    EXIT_APP_EXCEPTION,
    EXIT_INTERNAL,
    EXIT_INVALID,
    ErrorEvent,
    LogEvent,
    ProgressEvent,
    ResultEvent,
    StartedEvent,
    parse_line,
)
from modelport.agent.capture import MAX_LINE_BYTES, StdoutCapture
from modelport.agent.emitter import ProgressThrottle
from modelport.agent.protocol import MAX_RAW_CHARS, encode
from modelport.appkit import Progress


@pytest.mark.parametrize("event", [
    StartedEvent(app="a", app_version="1", procedure="solve", pid=7, time="t"),
    ProgressEvent(fraction=0.5, message="half", incumbent=3.0, bound=None),
    LogEvent(line="hello", source="stdout"),
    ResultEvent(path="/work/out.mpcase", sha256="ab" * 32, size=10, interrupted=True),
    ErrorEvent(reason="invalid_data", message="bad", issues=[
        {"identifier": "demand", "element": ["x"], "message": "demand['x']: bad"}]),
])
def test_events_round_trip(event: object) -> None:
    line = encode(event)  # type: ignore[arg-type]
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["v"] == 1
    assert parse_line(line) == event


@pytest.mark.parametrize("line", [
    b"plain text from somewhere",
    b"[1, 2, 3]",
    b'{"no": "type"}',
    b'{"v": 1, "type": "telemetry", "x": 1}',
    b'{"v": 1, "type": "progress", "fraction": "lots"}',
    b'{"v": 1, "type": "result", "path": "/x"}',
    b"\xff\xfe not utf-8",
])
def test_other_lines_become_raw_log_lines(line: bytes) -> None:
    event = parse_line(line + b"\r\n")
    assert isinstance(event, LogEvent) and event.source == "raw"
    assert event.line == line.decode("utf-8", errors="replace")


def test_raw_lines_are_cut_and_extra_fields_ignored() -> None:
    assert len(parse_line("x" * (MAX_RAW_CHARS * 2)).line) == MAX_RAW_CHARS  # type: ignore[union-attr]
    event = parse_line('{"v": 1, "type": "log", "line": "a", "future": true}')
    assert event == LogEvent(line="a")


def test_error_reasons_map_to_exit_codes() -> None:
    codes = {reason: ErrorEvent(reason=reason, message="").exit_code
             for reason in ("app_exception", "invalid_data", "bad_app", "unknown_procedure",
                            "internal")}
    assert codes == {"app_exception": EXIT_APP_EXCEPTION, "invalid_data": EXIT_INVALID,
                     "bad_app": EXIT_INVALID, "unknown_procedure": EXIT_INVALID,
                     "internal": EXIT_INTERNAL}


class FakeTimers:
    """Timers that fire only when the test says so."""

    def __init__(self) -> None:
        self.started: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay_s: float, action: Callable[[], None]) -> FakeTimers:
        self.started.append((delay_s, action))
        return self

    def cancel(self) -> None:
        self.cancelled += 1


def report(fraction: float) -> Progress:
    return Progress(fraction, f"at {fraction}", None, None, fraction)


def test_throttle_sends_at_most_one_per_interval_and_keeps_the_latest() -> None:
    now = [100.0]
    sent: list[ProgressEvent] = []
    timers = FakeTimers()
    throttle = ProgressThrottle(sent.append, 0.2, clock=lambda: now[0], timer=timers)
    throttle.report(report(0.1))
    for fraction in (0.2, 0.3, 0.4):
        now[0] += 0.01
        throttle.report(report(fraction))
    assert [e.fraction for e in sent] == [0.1]
    assert len(timers.started) == 1 and timers.started[0][0] == pytest.approx(0.19)
    now[0] += 0.2
    timers.started[0][1]()
    assert [e.fraction for e in sent] == [0.1, 0.4]


def test_throttle_drops_a_held_report_superseded_by_a_newer_one() -> None:
    now = [0.0]
    sent: list[ProgressEvent] = []
    timers = FakeTimers()
    throttle = ProgressThrottle(sent.append, 0.2, clock=lambda: now[0], timer=timers)
    throttle.report(report(0.1))
    throttle.report(report(0.2))  # held
    now[0] += 1.0
    throttle.report(report(0.3))  # interval passed: sent now, 0.2 dropped, its timer cancelled
    throttle.flush()
    assert [e.fraction for e in sent] == [0.1, 0.3]
    assert timers.cancelled == 1


def test_throttle_flush_sends_the_last_report_once() -> None:
    now = [0.0]
    sent: list[ProgressEvent] = []
    throttle = ProgressThrottle(sent.append, 0.2, clock=lambda: now[0], timer=FakeTimers())
    for fraction in (0.1, 0.5, 1.0):
        throttle.report(report(fraction))
    throttle.flush()
    throttle.flush()
    assert [e.fraction for e in sent] == [0.1, 1.0]
    assert sent[-1].message == "at 1.0"


def test_captured_lines_are_split_at_the_limit() -> None:
    lines: list[str] = []
    capture = StdoutCapture(lines.append)
    rest = capture._split(b"a" * (MAX_LINE_BYTES + 3) + b"\nshort\n" + b"b" * (MAX_LINE_BYTES + 1))
    assert [len(x) for x in lines] == [MAX_LINE_BYTES, 3, 5, MAX_LINE_BYTES]
    assert rest == b"b"
