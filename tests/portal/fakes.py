"""Backend clients that subclass the real one to drive failure paths the real backend can't."""

from __future__ import annotations

import asyncio

from common.contracts.method import Method, Rep, Req
from common.contracts.methods import UserMethods
from portal_svc.backend_client import BackendClient


class ExplodingBackend(BackendClient):
    """Every call fails with an unexpected error whose text must never reach a client."""

    SECRET = "database password is hunter2"

    def __init__(self) -> None:
        super().__init__(rpc=None)  # type: ignore[arg-type]

    async def send(self, method: Method[Req, Rep], request: Req, *,
                   timeout_s: float | None = None) -> Rep:
        raise RuntimeError(self.SECRET)


class GatedBackend(BackendClient):
    """Listing users waits at a gate, so a test can hold a request in flight."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, method: Method[Req, Rep], request: Req, *,
                   timeout_s: float | None = None) -> Rep:
        if method is UserMethods.LIST:
            self.entered.set()
            await self.gate.wait()
        return await super().send(method, request, timeout_s=timeout_s)
