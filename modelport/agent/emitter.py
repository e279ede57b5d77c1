"""Writing protocol lines: whole lines, one writer at a time, progress rate-limited."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import BinaryIO, Protocol

from modelport.agent.lines import LineWriter
from modelport.agent.protocol import LogEvent, LogSource, ProgressEvent, _Event, encode
from modelport.appkit import Progress


class Emitter:
    """Writes events to the protocol stream, each as one complete line, thread-safe."""

    def __init__(self, stream: BinaryIO) -> None:
        self._out = LineWriter(stream)

    def emit(self, event: _Event) -> None:
        """Write ``event`` and flush; raises OSError when the stream is gone."""
        self._out.write(encode(event))

    def log(self, line: str, source: LogSource = "app") -> None:
        """Emit a log line (a multi-line message becomes one event per line)."""
        for part in line.splitlines() or [""]:
            self.emit(LogEvent(line=part, source=source))


class Cancellable(Protocol):
    def cancel(self) -> None: ...


Timer = Callable[[float, Callable[[], None]], Cancellable]


def start_thread_timer(delay_s: float, action: Callable[[], None]) -> Cancellable:
    """Run ``action`` once after ``delay_s`` on a daemon thread."""
    timer = threading.Timer(delay_s, action)
    timer.daemon = True
    timer.start()
    return timer


class ProgressThrottle:
    """Passes progress on at most once per ``interval_s``, keeping order and the latest.

    A report arriving too soon is held; a newer one replaces it. The held report is sent
    when the interval has passed (by a timer) or on ``flush()``, so the last report of a run
    is never lost and reports are never sent out of order.
    """

    def __init__(
        self,
        send: Callable[[ProgressEvent], None],
        interval_s: float = 0.2,
        *,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer = start_thread_timer,
    ) -> None:
        self._send = send
        self._interval_s = interval_s
        self._clock = clock
        self._timer = timer
        self._lock = threading.Lock()
        self._last_sent = float("-inf")
        self._pending: ProgressEvent | None = None
        self._scheduled: Cancellable | None = None

    def report(self, progress: Progress) -> None:
        """Take one report from the procedure (the app kit's ``on_progress``)."""
        event = ProgressEvent(**progress.to_dict())
        with self._lock:
            wait_s = self._last_sent + self._interval_s - self._clock()
            if wait_s <= 0:
                self._pending = None  # superseded by this newer report
                self._deliver(event)
                return
            self._pending = event
            if self._scheduled is None:
                self._scheduled = self._timer(wait_s, self.flush)

    def flush(self) -> None:
        """Send the held report, if any, now."""
        with self._lock:
            if self._pending is not None:
                event, self._pending = self._pending, None
                self._deliver(event)

    def _deliver(self, event: ProgressEvent) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._last_sent = self._clock()
        self._send(event)
