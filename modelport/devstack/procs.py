"""Process helpers: identity that survives pid reuse, waiting for exit, stopping with a deadline.

Waiting uses a pidfd (Linux) so ``dev down`` learns of an exit at once even though it is not
the parent; elsewhere it falls back to a short poll. A zombie counts as gone: its parent (or
init) reaps it, it no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from modelport.devstack.state import ProcessRecord


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # fields from "state" (3rd) onwards


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None off Linux or when gone)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def is_running(record: ProcessRecord) -> bool:
    """True when the recorded process still runs (not a zombie, not a reused pid)."""
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(record.pid)
    if fields is None:
        return not Path("/proc").is_dir()  # no /proc: trust the pid
    if fields[0] in ("Z", "X"):
        return False
    return record.start_time is None or fields[19] == record.start_time


def wait_gone(record: ProcessRecord, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the process to end; True when it has."""
    deadline = time.monotonic() + timeout_s
    try:
        fd = os.pidfd_open(record.pid)
    except (AttributeError, OSError):
        fd = None
    try:
        while is_running(record):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(0.1, left))
        return True
    finally:
        if fd is not None:
            os.close(fd)


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    if is_running(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)


def stop_all(records: Iterable[ProcessRecord], timeout_s: float) -> list[str]:
    """SIGTERM every process, wait for all within ``timeout_s``, SIGKILL the rest.

    Returns the names of the processes that had to be killed.
    """
    records = list(records)
    for record in records:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    killed = []
    for record in records:
        if not wait_gone(record, max(0.0, deadline - time.monotonic())):
            _signal(record, signal.SIGKILL)
            wait_gone(record, 5.0)
            killed.append(record.name)
    return killed
