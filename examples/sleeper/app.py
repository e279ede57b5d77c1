"""Sleeper: procedures that take a known time, use a known amount of memory, or fail.

For tests of cancel, interrupt, time limits, memory and disk limits and app failures:

- ``sleep``    (solve)   sleeps ``seconds``, reporting progress every ``step_s``; stops early
                         (status "interrupted") when asked to stop;
- ``allocate`` (solve)   fills ``megabytes`` MB of memory and holds it for ``hold_s`` seconds;
- ``scribble`` (solve)   writes ``megabytes`` MB to ``scratch.bin`` in its working folder
                         (a job's /work) and removes it;
- ``fail``     (solve)   raises RuntimeError(``message``);
- ``nap``      (session) the same as ``sleep``, run in the data session.
"""

from __future__ import annotations

import os
import time
from typing import Any

from modelport.appkit import App, Context, button, scalar, table

app = App(name="sleeper", title="Sleeper")

seconds = app.parameter("seconds", unit="s", lower=0, default=5.0)
step_s = app.parameter("step_s", unit="s", lower=0.01, default=0.1)
megabytes = app.parameter("megabytes", type="integer", unit="MB", lower=0, default=100)
hold_s = app.parameter("hold_s", unit="s", lower=0, default=1.0)
message = app.parameter("message", type="string", default="sleeper was asked to fail")

slept_s = app.result("slept_s", unit="s")
allocated_mb = app.result("allocated_mb", type="integer", unit="MB")
status = app.result("status", type="string")


def _sleep(ctx: Context) -> dict[str, Any]:
    total, step = float(ctx["seconds"]), float(ctx["step_s"])
    start = time.monotonic()
    while (done := time.monotonic() - start) < total:
        if ctx.should_stop():
            ctx.progress(done / total, "interrupted")
            return {"slept_s": done, "status": "interrupted"}
        ctx.progress(done / total, f"slept {done:.1f} of {total:.1f} s")
        time.sleep(min(step, total - done))
    ctx.progress(1.0, "done")
    return {"slept_s": time.monotonic() - start, "status": "done"}


@app.procedure(kind="solve", title="Sleep")
def sleep(ctx: Context) -> dict[str, Any]:
    """Sleep ``seconds`` with progress; stop early when asked."""
    return _sleep(ctx)


@app.procedure(kind="session", title="Nap in the session")
def nap(ctx: Context) -> dict[str, Any]:
    """``sleep`` as a session procedure."""
    return _sleep(ctx)


@app.procedure(kind="solve", title="Allocate memory")
def allocate(ctx: Context) -> dict[str, Any]:
    """Fill ``megabytes`` MB (every page written, so it is really resident), then hold it."""
    size = int(ctx["megabytes"])
    blocks = []
    for done in range(size):
        blocks.append(bytearray(b"\x01") * (1 << 20))
        if done % 16 == 0:
            ctx.progress(done / max(size, 1), f"allocated {done} MB")
    ctx.progress(1.0, f"holding {size} MB")
    deadline = time.monotonic() + float(ctx["hold_s"])
    while time.monotonic() < deadline and not ctx.should_stop():
        time.sleep(0.05)
    return {"allocated_mb": len(blocks), "status": "done"}


@app.procedure(kind="solve", title="Write scratch data")
def scribble(ctx: Context) -> dict[str, Any]:
    """Write ``megabytes`` MB to ``scratch.bin`` in the working folder, then remove it."""
    size = int(ctx["megabytes"])
    try:
        with open("scratch.bin", "wb") as scratch:
            for done in range(size):
                scratch.write(b"\x01" * (1 << 20))
                scratch.flush()
                if done % 16 == 0:
                    ctx.progress(done / max(size, 1), f"wrote {done} MB")
    finally:
        if os.path.exists("scratch.bin"):
            os.remove("scratch.bin")
    return {"status": "done"}


@app.procedure(kind="solve", title="Fail")
def fail(ctx: Context) -> None:
    """Raise RuntimeError with ``message``."""
    ctx.progress(0.5, "about to fail")
    raise RuntimeError(ctx["message"])


app.page("sleeper", "Sleeper", [
    scalar(seconds, "Seconds"), scalar(megabytes, "Megabytes"), scalar(message, "Message"),
    button(sleep, "Sleep"), button(allocate, "Allocate"), button(fail, "Fail"),
    table(status, editable=False), table(slept_s, editable=False),
])
