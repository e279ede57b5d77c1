"""Live streams end when their credential does: token revoked, signed out everywhere, account
disabled (docs/security.md, "Revocation").

Every open SSE stream and proxied session WebSocket is tracked in the app's
:class:`OpenStreams` with the user and token that opened it. Backend publishes
``modelport.token.revoked`` and ``modelport.user.disabled`` through its outbox; every portal
replica consumes them on its own queue (:func:`revocation_consumer`) and
:meth:`OpenStreams.revoke` forgets the user's tokens in the token cache and closes the matching
streams at once. As a safety net for a lost event (a broker outage, a replica that was
reconnecting), :meth:`OpenStreams.recheck` asks backend about every open stream's token every
``stream_recheck_s`` and closes those it refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from pydantic import ValidationError

from common.contracts.events import CloudEvent, UserDisabled
from common.contracts.methods import UserMethods
from common.contracts.tokens import TokensRevoked
from common.contracts.users import TokenHolder
from common.errors import ModelportError, Unauthenticated
from portal_svc.appkeys import BACKEND, SETTINGS
from portal_svc.auth import Caller
from portal_svc.backend_client import BackendClient
from portal_svc.live.consumer import EventConsumer
from portal_svc.token_cache import TokenCache

log = structlog.get_logger(__name__)
PATTERNS = (TokensRevoked.TYPE, UserDisabled.DISABLED)


@dataclass(frozen=True)
class Stream:
    user_id: str
    token_id: str
    token: str
    close: Callable[[], object]


class OpenStreams:
    """The live streams of this portal instance, by the credential that opened them."""

    def __init__(self, cache: TokenCache[TokenHolder]) -> None:
        self._cache = cache
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._streams)

    @contextlib.contextmanager
    def track(self, caller: Caller, close: Callable[[], object]) -> Iterator[None]:
        """Keep the stream for the ``with`` block; ``close`` ends it (called at most once,
        at once when a revocation overtook the caller's token lookup)."""
        key = next(self._ids)
        self._streams[key] = Stream(caller.user.id, caller.user.token_id, caller.token, close)
        if self._cache.revoked_since(caller.user.id, caller.user.token_id, caller.epoch):
            self._close(key, "revoked_before_open")
        try:
            yield
        finally:
            self._streams.pop(key, None)

    def revoke(self, user_id: str, token_ids: list[str] | None, reason: str) -> int:
        """Forget the user's tokens and close their streams (all of them when ``token_ids``
        is None); how many closed."""
        self._cache.revoked(user_id, token_ids)
        keys = [k for k, s in self._streams.items() if s.user_id == user_id
                and (token_ids is None or s.token_id in token_ids)]
        for key in keys:
            self._close(key, reason)
        return len(keys)

    def on_event(self, event: CloudEvent) -> None:
        """A ``modelport.token.revoked`` or ``modelport.user.disabled`` event."""
        try:
            if event.type == TokensRevoked.TYPE:
                data = TokensRevoked.model_validate(event.data)
                self.revoke(data.user_id, None if data.all else data.token_ids, data.reason)
            elif event.type == UserDisabled.DISABLED:
                self.revoke(UserDisabled.model_validate(event.data).user_id, None, "disabled")
        except ValidationError:
            log.warning("revocation_event_malformed", event_id=event.id, type=event.type)

    async def recheck(self, backend: BackendClient) -> int:
        """Ask backend about each open stream's token (not the cache); close the refused ones.
        Other failures (backend away) keep the streams. How many closed."""
        closed = 0
        for token in {s.token for s in self._streams.values()}:
            try:
                await backend.call(UserMethods.RESOLVE_TOKEN, token=token)
            except ModelportError as exc:
                if exc.status == Unauthenticated.status:
                    keys = [k for k, s in self._streams.items() if s.token == token]
                    for key in keys:
                        self._close(key, "recheck")
                    closed += len(keys)
        return closed

    def _close(self, key: int, reason: str) -> None:
        stream = self._streams.pop(key, None)
        if stream is not None:
            log.info("stream_revoked", user_id=stream.user_id, reason=reason)
            stream.close()


OPEN_STREAMS = web.AppKey("open_streams", OpenStreams)


def revoked_here(request: web.Request, user_id: str, token_ids: list[str] | None,
                 reason: str) -> None:
    """A revocation made through this portal: act on it now, without waiting for its event
    (which still reaches every replica, this one included: closing twice is harmless)."""
    request.app[OPEN_STREAMS].revoke(user_id, token_ids, reason)


def revocation_consumer(connection: AbstractRobustConnection,
                        streams: OpenStreams) -> EventConsumer:
    """This instance's feed of revocation events into ``streams``."""
    return EventConsumer(connection, PATTERNS, streams.on_event)


async def recheck_streams(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: re-validate open streams every ``stream_recheck_s``."""
    task = asyncio.create_task(_recheck_loop(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _recheck_loop(app: web.Application) -> None:
    every = app[SETTINGS].stream_recheck_s
    while True:
        await asyncio.sleep(every)
        try:
            await app[OPEN_STREAMS].recheck(app[BACKEND])
        except Exception:  # the safety net must outlive a bad round
            log.exception("stream_recheck_failed")
