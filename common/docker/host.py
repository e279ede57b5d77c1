"""One Docker engine: its client, health and what our service runs on it."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiodocker
import aiohttp
import structlog

from common.docker.settings import HostConfig
from common.docker.spec import MEMORY, OWNER, SERVICE
from common.lifecycle import StartStop

log = structlog.get_logger(__name__)
IDLE_PREFIX = "/mp-warm-"


@dataclass(frozen=True)
class Usage:
    """Containers of our service running on a host (idle warm ones excluded) and their
    memory limits added up."""

    names: frozenset[str]
    memory_by_name: tuple[tuple[str, int], ...]


UNIX = "unix://"


def _client(config: HostConfig) -> aiodocker.Docker:
    """A client whose connection pool has no limit: every session holds a connection (its
    agent's attached stdin/stdout) for as long as it runs, and aiohttp's default of 100 made
    the 101st request (a ping, a container start) wait for one to end (host marked down
    with about 90 sessions open). What runs on a host is bounded by its slots instead."""
    if config.url.startswith(UNIX):
        client = aiodocker.Docker(
            url=config.url, connector=aiohttp.UnixConnector(config.url[len(UNIX):], limit=0))
        client.docker_host = UNIX + "localhost"  # what aiodocker puts in a socket's URLs
        return client
    tls = _ssl_context(config) if config.uses_tls else None
    url = config.url.replace("tcp://", "https://" if tls else "http://", 1)
    return aiodocker.Docker(url=url, connector=aiohttp.TCPConnector(ssl=tls or False, limit=0))



def _ssl_context(config: HostConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.tls_ca or None)
    if config.tls_cert:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


class DockerHost(StartStop):
    """A Docker engine named in the settings. Open with ``async with`` or ``start()``.

    ``service`` is the label value our containers carry; ``usage()`` counts only those.
    """

    def __init__(self, config: HostConfig, *, service: str) -> None:
        self.config = config
        self.name = config.name
        self.service = service
        self._docker: aiodocker.Docker | None = None
        self.image_locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        """Create the client (no request is made yet)."""
        self._docker = _client(self.config)

    async def stop(self) -> None:
        if self._docker is not None:
            await self._docker.close()
            await self._docker.connector.close()  # ours (see _client): aiodocker leaves it open
            self._docker = None

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            raise RuntimeError(f"docker host {self.name} is not started")
        return self._docker

    async def ping(self, timeout_s: float = 3.0) -> bool:
        """True when the engine answers ``/_ping`` within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self.docker._query("_ping", versioned_api=False) as reply:
                    return reply.status == 200
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("docker_ping_failed", host=self.name, error=str(exc))
            return False

    async def ours(self, *, all_states: bool = False, owner: str | None = None
                   ) -> list[dict[str, Any]]:
        """Container summaries (list API) carrying our service label (and ``owner``'s)."""
        filters = {"label": [f"{SERVICE}={self.service}"]}
        if owner is not None:
            filters["label"].append(f"{OWNER}={owner}")
        if not all_states:
            filters["status"] = ["running", "created", "restarting"]
        return await self.docker._query_json(
            "containers/json", params={"all": "1", "filters": json.dumps(filters)}
        )

    async def usage(self) -> Usage:
        """What our busy containers use on this host right now."""
        busy: dict[str, int] = {}
        for item in await self.ours():
            name = _first_name(item)
            if name.startswith(IDLE_PREFIX):
                continue
            labels = item.get("Labels") or {}
            assert isinstance(labels, dict)
            busy[name.lstrip("/")] = int(labels.get(MEMORY, "0") or 0)
        return Usage(frozenset(busy), tuple(sorted(busy.items())))

    def image_lock(self, image_digest: str) -> asyncio.Lock:
        """The lock that makes concurrent jobs on this host load one image once."""
        return self.image_locks.setdefault(image_digest, asyncio.Lock())


def _first_name(item: dict[str, object]) -> str:
    names = item.get("Names") or ["/"]
    assert isinstance(names, list)
    return str(names[0])
