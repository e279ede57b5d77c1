"""ExclusiveDuty while its database is unreachable: it backs off, wakes do not make it spin,
and stop() still ends it at once (CI once saw the back-off run past 2**1024 and overflow)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from backend_svc import db, duty
from backend_svc.duty import ExclusiveDuty


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_wakes_during_an_outage_do_not_turn_back_off_into_a_busy_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0
    real_connect = db.connect

    async def counting_connect(dsn: str):
        nonlocal attempts
        attempts += 1
        return await real_connect(dsn)

    monkeypatch.setattr(duty.db, "connect", counting_connect)

    async def step() -> None:
        raise AssertionError("no step without a database")

    d = ExclusiveDuty("t-duty", f"postgresql://postgres@127.0.0.1:{_closed_port()}/x", 4242,
                      step, interval_s=0.05, channel="t")
    await d.start()
    for _ in range(1500):  # a commit or NOTIFY wake every millisecond, for about 1.5 s
        d.wake()
        await asyncio.sleep(0.001)
    started = time.monotonic()
    await d.stop()
    assert time.monotonic() - started < 1.0, "stop() waited out the back-off"
    assert not d.leading and d.steps == 0
    # Delays 0..0.2, 0..0.4, 0..0.8, ... : a handful of connects, never thousands.
    assert 1 <= attempts <= 40, attempts
