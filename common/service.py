"""What every service's ``__main__`` shares: run a service until SIGTERM, then stop it.

A service is any object with ``start()`` and ``stop()`` (which drains in-flight work).
Exit status 0 after a clean stop, 1 when start-up or shutdown failed.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Runnable(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def serve_until_signalled(service: Runnable) -> int:
    """Start ``service``, wait for SIGTERM or SIGINT, stop it; return the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
    except Exception:
        log.exception("start_failed", service=service.name)
        await service.stop()
        return 1
    log.info("service_started", service=service.name)
    await stop.wait()
    log.info("service_stopping", service=service.name)
    try:
        await service.stop()
    except Exception:
        log.exception("stop_failed", service=service.name)
        return 1
    log.info("service_stopped", service=service.name)
    return 0
