"""The containers a session's earlier attempts left behind, removed before it starts again.

A session restarted after its worker died (or its host failed and came back) may still have
the container of its earlier attempt running on a host: nobody holds it any more, and it
takes a slot. The worker that launches attempt N removes every container named for the
same session with a lower attempt on each healthy host first (names are deterministic:
``mp-session-{id}-{attempt}``), so a session never has two containers.

Every container a session worker makes carries the label OWNER ``session/<instance>``; at
start a worker removes only its own (an earlier life under the same instance id), never
another replica's, whose sessions still run.
"""

from __future__ import annotations

import structlog

from common.docker import HostPool, found, remove
from common.docker.spec import parse_container_name

log = structlog.get_logger(__name__)
OWNER_PREFIX = "session/"


def owner_of(instance: str) -> str:
    """The OWNER label value of the containers of session worker ``instance``."""
    return f"{OWNER_PREFIX}{instance}"


async def remove_earlier(pool: HostPool, session_id: str, attempt: int) -> list[str]:
    """Remove the containers of ``session_id``'s attempts before ``attempt`` on the healthy
    hosts; return their names. A host that cannot be listed is skipped (logged): its
    orphan goes with the next sweep of that host."""
    removed: list[str] = []
    for host in pool.hosts:
        if not pool.healthy(host.name):
            continue
        try:
            items = await host.ours(all_states=True)
            for item in items:
                container = found(host, item)
                parsed = parse_container_name(container.name)
                if parsed is not None and parsed[:2] == ("session", session_id) \
                        and parsed[2] < attempt:
                    log.warning("session_orphan_removed", host=host.name,
                                container=container.name)
                    await remove(container)
                    removed.append(container.name)
        except Exception as exc:
            log.warning("session_orphan_sweep_failed", host=host.name, error=repr(exc))
    return removed
