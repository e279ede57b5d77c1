"""common.backoff: full-jitter delays, retry only what is transient, give up at the deadline."""

from __future__ import annotations

import itertools
import time

import pytest

from common.backoff import delays, retry


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then returns "done"."""

    def __init__(self, failures: int, error: BaseException):
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_delays_are_full_jitter_capped() -> None:
    for n, delay in enumerate(itertools.islice(delays(base_s=0.1, cap_s=1.0), 200)):
        assert 0 <= delay <= min(1.0, 0.1 * 2**n)


async def test_transient_errors_are_retried_until_success() -> None:
    call = Flaky(3, ConnectionRefusedError("not yet"))
    assert await retry(call, what="t", deadline_s=5, base_s=0.001, cap_s=0.002) == "done"
    assert call.calls == 4


async def test_other_errors_surface_at_once() -> None:
    call = Flaky(3, ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        await retry(call, what="t", deadline_s=5, base_s=0.001)
    assert call.calls == 1


async def test_retry_on_is_respected() -> None:
    call = Flaky(2, KeyError("x"))
    assert await retry(call, what="t", deadline_s=5, retry_on=(KeyError,), base_s=0.001) == "done"
    with pytest.raises(ConnectionError):
        await retry(Flaky(1, ConnectionError()), what="t", deadline_s=5, retry_on=(KeyError,))


async def test_gives_up_at_the_deadline_with_the_last_error() -> None:
    call = Flaky(10**9, ConnectionResetError("down"))
    started = time.monotonic()
    with pytest.raises(ConnectionResetError, match="down"):
        await retry(call, what="t", deadline_s=0.2, base_s=0.01, cap_s=0.02)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0
    assert call.calls > 2


async def test_zero_deadline_tries_once() -> None:
    call = Flaky(1, OSError("down"))
    with pytest.raises(OSError):
        await retry(call, what="t", deadline_s=0)
    assert call.calls == 1


def test_delays_never_overflow_however_long_an_outage_lasts() -> None:
    # 2**1024 does not fit a float: the old formula raised OverflowError at attempt 1024.
    tail = list(itertools.islice(delays(base_s=0.2, cap_s=5.0), 5000))[-10:]
    assert all(0 <= d <= 5.0 for d in tail)


def test_a_base_above_the_cap_is_held_to_the_cap() -> None:
    assert all(d <= 1.0 for d in itertools.islice(delays(base_s=3.0, cap_s=1.0), 50))
