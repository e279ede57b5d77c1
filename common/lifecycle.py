"""``async with`` for the clients that open in ``start()`` and close in ``stop()``."""

from __future__ import annotations

from typing import Self


class StartStop:
    """Base of a client with ``start()``/``stop()``: ``async with client:`` starts it and
    stops it on the way out (also when the block raises)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
