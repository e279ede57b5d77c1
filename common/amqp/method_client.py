"""One typed call for every declared RPC method: no hand-written wrapper per method.

``await client.call(CaseMethods.GET, actor=principal, case_id=case_id)`` builds the method's
request contract from the fields, sends it to the queue that serves the method and returns the
method's reply contract. Portal, workers, the CLI and tests all call methods this way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from common.amqp.rpc import LINK_ERRORS, RpcClient, validation_message
from common.contracts.method import Method, Rep, Req
from common.errors import BadRequest, BrokerUnavailable

Q = TypeVar("Q", bound=BaseModel)


def build(contract: type[Q], **fields: Any) -> Q:
    """The request contract; a value it refuses is the caller's mistake (400
    ``invalid_request`` naming the fields), not the server's."""
    try:
        return contract.model_validate(fields)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc), code="invalid_request") from None


class MethodClient:
    """Calls declared methods over an :class:`RpcClient`.

    Every call returns ``method.reply`` or raises a ModelportError: the server's own refusal
    (its code and status), RpcTimeout when no reply comes in time, Unavailable ``no_server``
    when no server consumes the queue, and BrokerUnavailable ``broker_unavailable``
    ("message broker unavailable") while the broker link is down, so callers retry or wait
    instead of crashing.
    """

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc

    async def call(
        self, method: Method[Req, Rep], /, *, timeout_s: float | None = None, **fields: Any
    ) -> Rep:
        """Build ``method.request`` from ``fields`` and :meth:`send` it."""
        return await self.send(method, build(method.request, **fields), timeout_s=timeout_s)

    async def send(
        self, method: Method[Req, Rep], request: Req, *, timeout_s: float | None = None
    ) -> Rep:
        """Send a request contract already built; return the reply contract."""
        try:
            return await self._rpc.call_method(method, request, timeout_s=timeout_s)
        except LINK_ERRORS as exc:
            raise BrokerUnavailable(detail="the link to it is down") from exc
