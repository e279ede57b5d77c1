"""Request/reply over RabbitMQ's direct reply-to.

A request is a JSON contract published to ``COMMANDS`` with the routing key of the server's
queue, its ``type`` naming the method. The reply is ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": {"code", "message", "status"}}``; the client turns the latter back
into a :class:`~common.errors.ModelportError`. A server writes a success as exactly
:data:`OK_PREFIX` + the result contract's JSON + ``}`` (pydantic's serializer, not ``json``),
and a client reads a reply in that shape straight into the reply contract; any other shape
(an older server, an error) is read as plain JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.exceptions import DeliveryError
from pydantic import BaseModel, ValidationError

from common.amqp import topology
from common.amqp.identity import CallerCheck, broker_user, calling_as
from common.contracts.method import AnyMethod, Handler, Method, Rep, Req, handlers_of
from common.errors import (
    BadRequest,
    BrokerUnavailable,
    ModelportError,
    NotFound,
    RpcTimeout,
    Unavailable,
)
from common.logging import bind_correlation, current_correlation_id
from common.metrics import RpcClientMetrics, RpcServerMetrics

log = structlog.get_logger(__name__)
R = TypeVar("R", bound=BaseModel)
# what the client library raises while the broker link is down or being recovered
LINK_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)
OK_PREFIX = b'{"ok":true,"result":'
Guard = Callable[[AnyMethod, BaseModel], None]
"""Called before every handler of a declared method; raises to refuse (the policy hook)."""
Translate = Callable[[Exception], ModelportError | None]
"""Maps an unexpected error of a handler to the error to reply with (e.g. a lost database
connection to ``database_unavailable``), or None to reply "internal error"."""


def link_up(connection: AbstractConnection) -> bool:
    """Whether the connection is open now (not closed, not between reconnects)."""
    connected = getattr(connection, "connected", None)
    return not connection.is_closed and (connected is None or connected.is_set())


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad field: ``username: String should match pattern …``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class RpcClient:
    """Calls methods on a server queue and waits for the reply, with a timeout."""

    def __init__(self, connection: AbstractRobustConnection, *, timeout_s: float,
                 metrics: RpcClientMetrics | None = None):
        self._connection = connection
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._channel: AbstractChannel | None = None
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        # Confirms with mandatory publishing: a request no queue takes comes back at once
        # and fails fast instead of waiting out the timeout.
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        queue = await self._channel.declare_queue(topology.DIRECT_REPLY_TO, passive=True)
        await queue.consume(self._on_reply, no_ack=True)

    async def stop(self) -> None:
        for future in self._pending.values():
            future.cancel()
        if self._channel is not None:
            await self._channel.close()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def call_method(
        self, method: Method[Req, Rep], request: Req, *, timeout_s: float | None = None
    ) -> Rep:
        """Call a declared method on the service that serves it; return its reply contract."""
        return await self.call(method.server, method.name, request, method.reply,
                               timeout_s=timeout_s)

    async def call(
        self, server: str, method: str, request: BaseModel, reply_type: type[R],
        *, timeout_s: float | None = None,
    ) -> R:
        """Call ``method`` on ``server``; return its reply as ``reply_type``.

        Raises the server's error as a ModelportError, RpcTimeout when no reply comes in time.
        """
        if self._metrics is None:
            return await self._call(server, method, request, reply_type, timeout_s=timeout_s)
        with self._metrics.calling(server, method):
            return await self._call(server, method, request, reply_type, timeout_s=timeout_s)

    async def _call(
        self, server: str, method: str, request: BaseModel, reply_type: type[R],
        *, timeout_s: float | None = None,
    ) -> R:
        assert self._channel is not None, "RpcClient.start() first"
        if not link_up(self._connection):  # a robust channel would wait out the reconnect
            raise BrokerUnavailable(detail="reconnecting")
        call_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        timeout = timeout_s or self._timeout_s
        message = aio_pika.Message(
            request.model_dump_json().encode(),
            content_type="application/json",
            type=method,
            correlation_id=call_id,
            reply_to=topology.DIRECT_REPLY_TO,
            expiration=timeout,
            user_id=broker_user(self._connection),
            headers={topology.CORRELATION_HEADER: current_correlation_id() or call_id},
        )
        try:
            await self._channel.default_exchange.publish(
                message, routing_key=server, mandatory=True, timeout=timeout
            )
            body = await asyncio.wait_for(future, timeout)
        except DeliveryError:
            raise Unavailable(f"no server is listening on {server}", code="no_server") from None
        except TimeoutError:
            raise RpcTimeout(f"{server} did not answer {method} within {timeout:g} s") from None
        finally:
            self._pending.pop(call_id, None)
        if body.startswith(OK_PREFIX) and body.endswith(b"}"):
            return reply_type.model_validate_json(body[len(OK_PREFIX):-1])
        reply = json.loads(body)
        if not reply.get("ok"):
            raise ModelportError.from_dict(reply.get("error") or {})
        return reply_type.model_validate(reply["result"])


@dataclass(frozen=True)
class _Served:
    declared: AnyMethod
    handler: Handler


class RpcServer:
    """Serves registered methods from one queue; stops taking work on :meth:`drain`."""

    def __init__(
        self, connection: AbstractRobustConnection, queue_name: str, *, prefetch: int,
        guard: Guard | None = None, metrics: RpcServerMetrics | None = None,
        roles: dict[str, str] | None = None, translate: Translate | None = None,
    ):
        self._connection = connection
        self._guard = guard
        self._translate = translate
        self._metrics = metrics
        self._callers = CallerCheck(roles)
        self._queue_name = queue_name
        self._prefetch = prefetch
        self._methods: dict[str, _Served] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None

    def serve(self, method: AnyMethod, handler: Handler) -> None:
        """Serve a declared method; it must be declared for this server's queue."""
        if method.server != self._queue_name:
            raise ValueError(f"{method.name} is served on {method.server}, not {self._queue_name}")
        if method.name in self._methods:
            raise ValueError(f"{method.name} is served twice on {self._queue_name}")
        self._methods[method.name] = _Served(method, handler)

    def serve_all(self, *owners: object) -> None:
        """Serve every handler the owners mark with :func:`~common.contracts.method.implements`."""
        for owner in owners:
            for method, handler in handlers_of(owner):
                self.serve(method, handler)

    @property
    def queue_name(self) -> str:
        return self._queue_name

    @property
    def served(self) -> list[str]:
        """Names of the methods this server answers."""
        return sorted(self._methods)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def start(self) -> None:
        if not self._callers.enforced:
            log.warning("broker_roles_unset", queue=self._queue_name,
                        detail="callers are not checked: any broker user may call any method")
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        await topology.declare_base(self._channel)
        queue = await topology.declare_rpc_queue(self._channel, self._queue_name)
        self._consumer_tag = await queue.consume(self._on_request)
        self._queue = queue

    async def drain(self, grace_s: float) -> None:
        """Stop consuming, let calls in flight finish within ``grace_s``, cancel the rest.

        Calling it again after it finished does nothing."""
        if self._channel is None:
            return
        if self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except LINK_ERRORS as exc:
                # the channel is gone (a broker restart still being recovered): it consumes
                # nothing any more, which is what the cancel was for
                log.warning("rpc_cancel_skipped", queue=self._queue_name, error=repr(exc))
            self._consumer_tag = None
        tasks = set(self._in_flight)
        if tasks:
            log.info("rpc_draining", queue=self._queue_name, in_flight=len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            log.info("rpc_drained", finished=len(tasks) - len(pending), cut=len(pending))
        channel, self._channel = self._channel, None
        with contextlib.suppress(*LINK_ERRORS):
            await channel.close()

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._handle(message)
        finally:
            self._in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        correlation = str((message.headers or {}).get(topology.CORRELATION_HEADER) or "")
        with bind_correlation(correlation or None, rpc=message.type):
            started = time.perf_counter()
            reply = await self._dispatch(message)
            if self._metrics is not None:  # an unknown method is not a label of its own
                method = message.type if message.type in self._methods else "unknown"
                self._metrics.served(method or "unknown", reply, time.perf_counter() - started)
            if message.reply_to:
                assert self._channel is not None
                await self._channel.default_exchange.publish(
                    aio_pika.Message(
                        _encode(reply),
                        content_type="application/json",
                        correlation_id=message.correlation_id,
                        user_id=broker_user(self._connection),
                    ),
                    routing_key=message.reply_to,
                )
            await message.ack()

    async def _dispatch(self, message: AbstractIncomingMessage) -> dict[str, Any]:
        try:
            method = self._methods.get(message.type or "")
            if method is None:
                raise NotFound(f"no RPC method {message.type!r} on {self._queue_name}")
            try:
                request = method.declared.request.model_validate_json(message.body)
            except ValidationError as exc:
                raise BadRequest(validation_message(exc), code="invalid_request") from None
            caller = self._callers.check(message.type or "", method.declared.callers,
                                         message.user_id or "", request)
            if self._guard is not None:
                self._guard(method.declared, request)
            with calling_as(caller):
                result = await method.handler(request)
            return {"ok": True, "result_json": result.model_dump_json()}
        except ModelportError as exc:
            log.info("rpc_refused", code=exc.code, message=exc.message)
            return {"ok": False, "error": exc.to_dict()}
        except Exception as exc:
            known = self._translate(exc) if self._translate is not None else None
            if known is not None:
                log.warning("rpc_unavailable", code=known.code, error=repr(exc))
                return {"ok": False, "error": known.to_dict()}
            log.exception("rpc_failed")
            return {"ok": False, "error": ModelportError("internal error").to_dict()}


def _encode(reply: dict[str, Any]) -> bytes:
    """The reply's body: a success as :data:`OK_PREFIX` + the result's JSON + ``}``."""
    if reply.get("ok"):
        return OK_PREFIX + reply["result_json"].encode() + b"}"
    return json.dumps(reply).encode()
