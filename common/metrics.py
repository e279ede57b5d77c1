"""Prometheus metrics of one service instance, served at ``/metrics``.

Each service instance owns one :class:`ServiceMetrics`: a registry of its own (never
prometheus_client's global default, so two instances run side by side in one test process),
the families the shared code records into (HTTP requests, RPC calls; Docker hosts and warm
pools in :mod:`common.docker.metrics`),
and *refreshers*: coroutines that read what is costly or remote (queue depths, database
counts) into gauges right before a scrape, at most once per ``cache_s``.

The list of every series, its labels and its meaning is in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import cached_property
from typing import Any

import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aio_pika.exceptions import ChannelClosed
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder

from common.errors import ModelportError, RpcTimeout

log = structlog.get_logger(__name__)
Refresher = Callable[[], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def latency_histogram(registry: CollectorRegistry, name: str, doc: str,
                      labels: list[str]) -> Histogram:
    """A ``_seconds`` histogram on ``registry`` with the latency buckets every timing shares."""
    return Histogram(name, doc, labels, registry=registry, buckets=LATENCY_BUCKETS)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REFRESH_TIMEOUT_S = 5.0


class ServiceMetrics:
    """The registry of one service instance and what runs before each scrape.

    Families used by only some services (RPC server, RPC client, HTTP) are made on first use,
    so a service exposes only what it records.
    """

    def __init__(self, service: str, *, cache_s: float = 2.0) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.cache_s = cache_s
        self._refreshers: list[Refresher] = []
        self._refreshed_at = -float("inf")
        self._lock = asyncio.Lock()

    @cached_property
    def rpc_server(self) -> RpcServerMetrics:
        return RpcServerMetrics(self.registry)

    @cached_property
    def rpc_client(self) -> RpcClientMetrics:
        return RpcClientMetrics(self.registry)

    @cached_property
    def http(self) -> HttpMetrics:
        return HttpMetrics(self.registry)

    def add_refresher(self, refresh: Refresher) -> None:
        """Run ``refresh`` before a scrape (at most once per ``cache_s`` for all of them)."""
        self._refreshers.append(refresh)

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The registry in the format the ``Accept`` header asks for (Prometheus text 0.0.4
        by default, OpenMetrics on request) and its content type; refreshed first when the
        cache is stale."""
        await self.refresh()
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    async def refresh(self) -> None:
        """Run the refreshers unless they ran less than ``cache_s`` ago. A refresher that
        fails or hangs is logged and leaves its gauges as they were; the scrape goes on."""
        async with self._lock:
            if time.monotonic() - self._refreshed_at < self.cache_s:
                return
            for refresh in self._refreshers:
                try:
                    await asyncio.wait_for(refresh(), REFRESH_TIMEOUT_S)
                except Exception as exc:
                    log.warning("metrics_refresh_failed", service=self.service, error=repr(exc))
            self._refreshed_at = time.monotonic()


def add_metrics_route(app: web.Application, metrics: ServiceMetrics,
                      token: str = "") -> None:
    """Serve ``GET /metrics`` on ``app``. With a ``token``, a scrape must send
    ``Authorization: Bearer <token>``; anything else gets a plain 401."""
    expected = f"Bearer {token}".encode()

    async def view(request: web.Request) -> web.Response:
        sent = request.headers.get("Authorization", "").encode()
        if token and not hmac.compare_digest(sent, expected):
            return web.Response(status=401, text="metrics need the metrics token\n",
                                headers={"WWW-Authenticate": "Bearer"})
        body, content_type = await metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", view)


# --- RPC -----------------------------------------------------------------------------------


class RpcServerMetrics:
    """``modelport_rpc_server_duration_seconds{method, outcome}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = latency_histogram(
            registry, "modelport_rpc_server_duration_seconds",
            "Time an RPC server spent on a request, from receipt to reply, by method and outcome.",
            ["method", "outcome"])

    def served(self, method: str, reply: dict[str, Any], seconds: float) -> None:
        """Record one request answered with ``reply`` (``{"ok": …, "error": …}``)."""
        self.seconds.labels(method, server_outcome(reply)).observe(seconds)


def server_outcome(reply: dict[str, Any]) -> str:
    """``ok``; ``refused`` (an expected error, 4xx/503); ``failed`` (an internal error)."""
    if reply.get("ok"):
        return "ok"
    return "failed" if (reply.get("error") or {}).get("status") == 500 else "refused"


class RpcClientMetrics:
    """``modelport_rpc_client_duration_seconds{server, method, outcome}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = latency_histogram(
            registry, "modelport_rpc_client_duration_seconds",
            "Time an RPC call took as the caller saw it, by server queue, method and outcome.",
            ["server", "method", "outcome"])

    @contextlib.contextmanager
    def calling(self, server: str, method: str) -> Iterator[None]:
        """Time the body as one call; its outcome comes from the exception it raises."""
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except RpcTimeout:
            outcome = "timeout"
            raise
        except ModelportError as exc:
            outcome = "no_server" if exc.code == "no_server" else "refused"
            raise
        finally:
            self.seconds.labels(server, method, outcome).observe(time.perf_counter() - started)


# --- HTTP ----------------------------------------------------------------------------------


class HttpMetrics:
    """``modelport_http_request_duration_seconds{method, route, status}`` and the aiohttp
    middleware that records it (put it first, so it sees the final status)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = latency_histogram(
            registry, "modelport_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"])

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            method = request.method if request.method in HTTP_METHODS else "other"
            self.seconds.labels(method, route_of(request), str(status)).observe(
                time.perf_counter() - started)


def route_of(request: web.Request) -> str:
    """The route template (``/api/v1/jobs/{job_id}``), never the raw path, so the label
    stays bounded; ``unmatched`` when no route matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# --- RabbitMQ queue depths -----------------------------------------------------------------


class QueueDepths:
    """Message and consumer counts of named queues, read by passive declares on a channel
    opened for each refresh. A queue that does not exist (yet) is left out."""

    def __init__(self, metrics: ServiceMetrics,
                 connection: Callable[[], AbstractRobustConnection | None],
                 queues: Callable[[], list[str]]) -> None:
        registry = metrics.registry
        self.messages = Gauge("modelport_amqp_queue_messages",
                              "Messages ready in a RabbitMQ queue this service consumes.",
                              ["queue"], registry=registry)
        self.consumers = Gauge("modelport_amqp_queue_consumers",
                               "Consumers attached to a RabbitMQ queue this service consumes.",
                               ["queue"], registry=registry)
        self._connection, self._queues = connection, queues
        metrics.add_refresher(self.refresh)

    async def refresh(self) -> None:
        connection = self._connection()
        if connection is None or connection.is_closed:
            return
        channel: AbstractChannel | None = None
        try:
            for name in self._queues():
                if channel is None or channel.is_closed:
                    channel = await connection.channel()
                await self._probe(channel, name)
        finally:
            if channel is not None and not channel.is_closed:
                await channel.close()

    async def _probe(self, channel: AbstractChannel, name: str) -> None:
        try:
            queue = await channel.declare_queue(name, passive=True, robust=False)  # type: ignore[call-arg]
        except ChannelClosed:  # 404: the broker closed the channel; the next probe opens one
            for gauge in (self.messages, self.consumers):
                with contextlib.suppress(KeyError):
                    gauge.remove(name)
            return
        result = queue.declaration_result
        self.messages.labels(name).set(result.message_count or 0)
        self.consumers.labels(name).set(result.consumer_count or 0)
