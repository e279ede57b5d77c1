"""The small status server: ``/healthz`` (the process lives) and ``/readyz`` (it can work).

Services without an HTTP port of their own run one; the portal mounts the same views on its
main app with :func:`add_health_routes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from common.metrics import ServiceMetrics, add_metrics_route

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def add_health_routes(app: web.Application, service: str, checks: ReadinessCheck) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": service})

    async def readyz(_: web.Request) -> web.Response:
        results = await checks()
        ready = all(results.values())
        return web.json_response(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": results},
            status=200 if ready else 503,
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


class StatusServer:
    """Serves the two status views on ``host:port`` (0 = any free port, see :attr:`port`),
    and ``/metrics`` when given the service's ``metrics``."""

    def __init__(self, service: str, checks: ReadinessCheck, *, host: str, port: int,
                 metrics: ServiceMetrics | None = None):
        self._app = web.Application()
        add_health_routes(self._app, service, checks)
        if metrics is not None:
            add_metrics_route(self._app, metrics)
        self._host, self._port = host, port
        self._runner = web.AppRunner(self._app, access_log=None)
        self.port = port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._runner.cleanup()
