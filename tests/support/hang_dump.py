"""When a test is about to hit its pytest-timeout, print where every asyncio task and every
thread is waiting, so a hang seen once in CI can be diagnosed from its log.

pytest-timeout's own report shows only the main thread's frame, which in an async test is
the event loop's ``select``: it never says which await hangs. A timer thread fires a few
seconds before the timeout and writes each pending task's stack (``Task.get_stack``) and
each thread's frames to stderr (captured per test and shown with the failure).
"""

from __future__ import annotations

import asyncio
import asyncio.tasks
import sys
import threading
import traceback
from collections.abc import Iterator

import pytest

LEAD_S = 5.0  # how long before the timeout the dump is written


def _timeout_s(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    if marker is not None and "timeout" in marker.kwargs:
        return float(marker.kwargs["timeout"])
    try:
        return float(item.config.getini("timeout") or 0)
    except (ValueError, TypeError):
        return 0.0


def _pending_tasks() -> list[asyncio.Task[object]]:
    for _ in range(5):  # another thread may change the set while it is copied
        try:
            return [t for t in list(asyncio.tasks._all_tasks) if not t.done()]
        except RuntimeError:
            continue
    return []


def dump(title: str, out: object = None) -> None:
    stream = out if out is not None else sys.stderr
    lines = [f"===== {title} ====="]
    for task in _pending_tasks():
        lines.append(f"--- task {task.get_name()} {task.get_coro()!r}")
        for frame in task.get_stack(limit=30):
            summary = traceback.extract_stack(frame, limit=1)
            lines.extend(line.rstrip() for line in summary.format())
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        name = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
        lines.append(f"--- thread {name}")
        lines.extend(line.rstrip() for line in traceback.format_stack(frame, limit=25))
    print("\n".join(lines), file=stream, flush=True)  # type: ignore[call-overload]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timeout_s = _timeout_s(item)
    timer = None
    if timeout_s > 2 * LEAD_S:
        timer = threading.Timer(timeout_s - LEAD_S, dump,
                                args=(f"{item.nodeid}: {LEAD_S:.0f} s before its timeout",))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
