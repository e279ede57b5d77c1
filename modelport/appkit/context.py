"""What a procedure receives: the data, a progress reporter and a stop check."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from modelport.appkit.declarations import DataDecl, SetDecl


@dataclass(frozen=True)
class Progress:
    """One progress report. ``fraction`` never decreases within a run.

    ``incumbent`` is the objective of the best solution found so far and ``bound`` the best
    proven bound, where the procedure knows them.
    """

    fraction: float
    message: str
    incumbent: float | None
    bound: float | None
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "fraction": self.fraction,
            "message": self.message,
            "incumbent": self.incumbent,
            "bound": self.bound,
            "elapsed_s": self.elapsed_s,
        }


ProgressSink = Callable[[Progress], None]
StopCheck = Callable[[], bool]
LogSink = Callable[[str], None]
CheckpointSink = Callable[[dict[str, Any]], None]
MAX_CHECKPOINT_BYTES = 512 * 1024  # a start solution, not a case; one agent line (< 1 MiB)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class Context:
    """The procedure's view of a run.

    ``ctx[name]`` or ``ctx.data[name]`` reads validated inputs (read-only); ``ctx.dense(name)``
    fills every element of the domain with the default; ``ctx.progress(...)`` reports;
    ``ctx.should_stop()`` says whether the run was asked to stop (interrupt, deadline);
    ``ctx.results[name] = values`` or returning a mapping sets results.
    ``ctx.checkpoint(values)`` saves where the run is (for a MIP: its incumbent) so that a
    re-run after the platform lost the run can resume from it: it gets the newest one back
    as ``ctx.start_solution`` (None on a first run).
    """

    def __init__(
        self,
        procedure: str,
        data: Mapping[str, Any],
        declarations: Mapping[str, SetDecl | DataDecl],
        *,
        on_progress: ProgressSink | None = None,
        should_stop: StopCheck | None = None,
        on_log: LogSink | None = None,
        on_checkpoint: CheckpointSink | None = None,
        start_solution: Mapping[str, Any] | None = None,
    ) -> None:
        self.procedure = procedure
        self.start_solution: Mapping[str, Any] | None = (
            None if start_solution is None else MappingProxyType(dict(start_solution)))
        self._on_checkpoint = on_checkpoint
        self.data: Mapping[str, Any] = MappingProxyType(dict(data))
        self.results: dict[str, Any] = {}
        self._declarations = declarations
        self._on_progress = on_progress
        self._stop_check = should_stop
        self._on_log = on_log
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._fraction = 0.0
        self._stopped = False

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    @property
    def interrupted(self) -> bool:
        """True once ``should_stop()`` has returned True in this run."""
        return self._stopped

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._started

    def should_stop(self) -> bool:
        """True when the run should stop and keep its best solution; stays True once True."""
        if not self._stopped and self._stop_check is not None and self._stop_check():
            self._stopped = True
        return self._stopped

    def progress(
        self,
        fraction: float,
        message: str = "",
        incumbent: float | None = None,
        bound: float | None = None,
    ) -> Progress:
        """Report progress; returns the report as sent.

        ``fraction`` is clamped to [0, 1] and never goes below an earlier report, so
        consumers always see reports in increasing order. Safe to call from any thread.
        """
        if not isinstance(fraction, int | float) or math.isnan(fraction):
            raise ValueError(f"progress fraction must be a number, got {fraction!r}")
        with self._lock:
            self._fraction = max(self._fraction, min(1.0, max(0.0, float(fraction))))
            report = Progress(
                self._fraction, message, _finite_or_none(incumbent), _finite_or_none(bound),
                self.elapsed_s,
            )
            if self._on_progress is not None:
                self._on_progress(report)
        return report

    def checkpoint(self, values: Mapping[str, Any]) -> None:
        """Save a checkpoint: a JSON-serialisable mapping (at most 512 KiB as JSON) from which
        the procedure can resume. The platform keeps the newest per attempt; a re-run of the
        job gets it as ``ctx.start_solution``. Without a sink (a local run) it is dropped.
        Raises ValueError for values that are not JSON or too large. Safe from any thread."""
        data = dict(values)
        try:
            size = len(json.dumps(data, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a checkpoint must be JSON: {exc}") from None
        if size > MAX_CHECKPOINT_BYTES:
            raise ValueError(f"a checkpoint is at most {MAX_CHECKPOINT_BYTES} bytes as JSON, "
                             f"this one is {size}")
        if self._on_checkpoint is not None:
            with self._lock:
                self._on_checkpoint(data)

    def log(self, message: str) -> None:
        """Write a line to the run's log (stdout when run without a sink)."""
        if self._on_log is not None:
            self._on_log(message)
        else:
            print(message, flush=True)

    def dense(self, name: str) -> dict[Any, Any]:
        """The values of an indexed identifier for every element of its domain.

        Elements without a value get the declared default (or None).
        """
        decl = self._declarations[name]
        if not isinstance(decl, DataDecl) or decl.is_scalar:
            raise TypeError(f"{name} is not an indexed parameter or result")
        values = self.data.get(name) or self.results.get(name) or {}
        keys = itertools.product(*(self.data.get(s, []) for s in decl.domain))
        flat = (k[0] if len(k) == 1 else k for k in keys)
        return {key: values.get(key, decl.default) for key in flat}
