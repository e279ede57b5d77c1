"""Revocation → open stream closed: how long an SSE stream outlives its revoked token.

Starts backend_svc and portal_svc as their own processes (bench/spawned.py), then ``--rounds``
times: makes a personal token, opens ``GET /api/v1/events/jobs`` with it (waits for the
stream's first bytes), revokes the token and times until the stream ends. Two ways, each
timed from just before the revocation is asked:

- ``portal``: ``DELETE /api/v1/tokens/{id}`` through the same portal (the portal acts at once);
- ``event``: ``tokens.revoke`` sent straight to backend over AMQP, as another portal replica
  would: this portal learns it only from the ``modelport.token.revoked`` event (outbox →
  relay → broker → its revocation consumer).

Prints median and p95 per way; the last line is
``revocation: portal_p50_ms=… portal_p95_ms=… event_p50_ms=… event_p95_ms=… rounds=…``.

    .venv/bin/python bench/revocation.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aio_pika
import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.spawned import ADMIN_PASSWORD, ADMIN_USER, spawned_platform  # noqa: E402
from common.amqp.method_client import MethodClient  # noqa: E402
from common.amqp.rpc import RpcClient  # noqa: E402
from common.contracts.base import Principal  # noqa: E402
from common.contracts.methods import TokenMethods

CLOSE_DEADLINE_S = 30.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _round(http: aiohttp.ClientSession, url: str, owner: str, revoke: object) -> float:
    """Seconds from asking the revocation to the stream's end."""
    auth = {"Authorization": f"Bearer {owner}"}
    async with http.post(f"{url}/api/v1/tokens", headers=auth,
                         json={"name": "bench", "scope": "read"}) as resp:
        made = await resp.json()
    stream = await http.get(f"{url}/api/v1/events/jobs",
                            headers={"Authorization": f"Bearer {made['token']}"})
    try:
        await stream.content.readuntil(b"\n\n")
        reading = asyncio.create_task(stream.content.read())
        started = time.perf_counter()
        await revoke(made)  # type: ignore[operator]
        await asyncio.wait_for(reading, CLOSE_DEADLINE_S)
        return time.perf_counter() - started
    finally:
        stream.close()


async def bench(rounds: int, tmp: Path) -> dict[str, list[float]]:
    async with spawned_platform(tmp) as platform, aiohttp.ClientSession() as http:
        admin = await platform.login(ADMIN_USER, ADMIN_PASSWORD)
        owner = await platform.create_user(admin, "alice", "alice-password-1")
        async with http.get(f"{platform.portal_url}/api/v1/me",
                            headers={"Authorization": f"Bearer {owner}"}) as resp:
            me = await resp.json()
        actor = Principal(user_id=me["id"], username="alice")
        connection = await aio_pika.connect_robust(platform.amqp_url)
        rpc = RpcClient(connection, timeout_s=10)
        await rpc.start()
        backend = MethodClient(rpc)

        async def via_portal(made: dict[str, str]) -> None:
            async with http.delete(f"{platform.portal_url}/api/v1/tokens/{made['id']}",
                                   headers={"Authorization": f"Bearer {owner}"}) as resp:
                assert resp.status == 204

        async def via_event(made: dict[str, str]) -> None:
            await backend.call(TokenMethods.REVOKE, actor=actor, token_id=made["id"])

        try:
            found: dict[str, list[float]] = {"portal": [], "event": []}
            for _ in range(rounds):
                for way, revoke in (("portal", via_portal), ("event", via_event)):
                    found[way].append(await _round(http, platform.portal_url, owner, revoke))
            return found
        finally:
            await rpc.stop()
            await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-revocation-") as tmp:
        found = asyncio.run(bench(args.rounds, Path(tmp)))
    line = []
    for way, seconds in found.items():
        ms = [s * 1000 for s in seconds]
        print(f"{way:>6}: median {statistics.median(ms):7.1f} ms   p95 {pct(ms, 0.95):7.1f} ms"
              f"   max {max(ms):7.1f} ms   ({len(ms)} rounds)")
        line.append(f"{way}_p50_ms={statistics.median(ms):.1f} {way}_p95_ms={pct(ms, 0.95):.1f}")
    print(f"revocation: {' '.join(line)} rounds={args.rounds}")


if __name__ == "__main__":
    main()
