"""Password hashing with argon2id (argon2-cffi's defaults), bounded in concurrency.

argon2 is meant to be slow and memory-hungry (and runs several lanes in parallel threads), so
sign-in checks run in worker processes at a lower CPU priority, at most ``max_concurrent`` at
once; callers hold no database connection while they wait or hash (:mod:`backend_svc.signin`),
so a flood of sign-ins can neither starve other requests of connections nor of CPU.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.process import die_with_parent

_hasher = PasswordHasher()
NICE = 19
"""How much lower the sign-in workers' CPU priority is (interactive requests come first)."""


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user does not exist, so both failures take the same time."""
    return _hasher.hash("not-a-real-password")


def _start_worker() -> None:
    """A checker process: low priority, and gone with the backend (even after a kill -9)."""
    die_with_parent()
    os.nice(NICE)


class Busy(Exception):
    """More checks are waiting than allowed: shed this one instead of queueing it."""


class PasswordWork:
    """argon2 checks, at most ``max_concurrent`` at a time and ``max_waiting`` queued.

    Shedding the excess matters as much as the bound: a queued check holds one of the RPC
    server's prefetch slots, so an unbounded queue would starve every other method."""

    def __init__(self, max_concurrent: int, max_waiting: int):
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_waiting = max_waiting
        self._waiting = 0
        self._pool = ProcessPoolExecutor(max_concurrent, initializer=_start_worker,
                                         mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash is checked against a dummy (timing).

        Raises Busy when ``max_waiting`` checks are queued already."""
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Busy()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, _check, password_hash, password)
        finally:
            self._slots.release()


def _check(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Unbounded :meth:`PasswordWork.verify`, for callers outside the sign-in path."""
    return await asyncio.to_thread(_check, password_hash, password)
