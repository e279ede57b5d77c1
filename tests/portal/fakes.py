"""Backend clients that subclass the real one to drive failure paths the real backend can't."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from pydantic import BaseModel

from common.contracts.base import Principal
from common.contracts.users import UserList
from portal_svc.backend_client import BackendClient

R = TypeVar("R", bound=BaseModel)


class ExplodingBackend(BackendClient):
    """Every call fails with an unexpected error whose text must never reach a client."""

    SECRET = "database password is hunter2"

    def __init__(self) -> None:
        super().__init__(rpc=None)  # type: ignore[arg-type]

    async def _call(self, method: str, request: BaseModel, reply: type[R], *,
                    timeout_s: float | None = None) -> R:
        raise RuntimeError(self.SECRET)


class GatedBackend(BackendClient):
    """``list_users`` waits at a gate, so a test can hold a request in flight."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def list_users(self, actor: Principal, *, limit: int = 100, offset: int = 0) -> UserList:
        self.entered.set()
        await self.gate.wait()
        return await super().list_users(actor, limit=limit, offset=offset)
