"""The REST API under a department's read load: req/s, p50, p99 and errors per endpoint.

Starts backend_svc and portal_svc as their own processes (bench/spawned.py) on a fresh
database, vhost and bucket; queues ``--queued`` jobs over ``--users`` users straight in the
database (the bench's user is one of them), adds ``--cases`` cases of that user, then for each
endpoint runs ``--clients`` concurrent keep-alive clients with that user's bearer token for
``--duration`` seconds (after a 2 s warm-up): ``GET /api/v1/me``, ``/api/v1/apps``,
``/api/v1/jobs?state=queued`` (a page of 50 of a 10,000-deep queue, with queue positions),
``/api/v1/cases``, and next to them the portal's ``/healthz`` (aiohttp alone). The load
generator is this process, on the same machine. Prints figures only; the last line is
``api: min_rps=… max_p99_ms=… errors=…`` over the four API endpoints.

    .venv/bin/python bench/api.py [--clients 32] [--duration 30] [--queued 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import cpu_s  # noqa: E402
from bench.spawned import (  # noqa: E402
    ADMIN_PASSWORD,
    ADMIN_USER,
    ROOT,
    SpawnedPlatform,
    spawned_platform,
)
from tests.support.deep_queue import seed_queue  # noqa: E402

API = ("/api/v1/me", "/api/v1/apps", "/api/v1/jobs?state=queued", "/api/v1/cases")
HEALTH = "/healthz"
WARM_UP_S = 2.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds used, per process

    def cpu_ms_per_request(self, who: str) -> float:
        return self.cpu_s.get(who, 0.0) * 1e3 / max(1, len(self.latencies) + self.errors)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

    @property
    def rps(self) -> float:
        return (len(self.latencies) + self.errors) / self.elapsed_s if self.elapsed_s else 0.0


async def client(http: aiohttp.ClientSession, url: str, headers: dict[str, str],
                 until: float, tally: Tally | None) -> None:
    """One client: request after request until ``until``; record into ``tally`` if given."""
    while (began := time.perf_counter()) < until:
        try:
            async with http.get(url, headers=headers) as resp:
                await resp.read()
                ok = resp.status == 200
        except aiohttp.ClientError:
            ok = False
        if tally is None:
            continue
        if ok:
            tally.latencies.append(time.perf_counter() - began)
        else:
            tally.errors += 1


async def load(http: aiohttp.ClientSession, url: str, headers: dict[str, str],
               clients: int, duration_s: float, cpu: CpuMeter,
               profile: Path | None = None) -> Tally:
    """``clients`` concurrent clients on ``url``: a warm-up, then ``duration_s`` measured
    (and profiled by py-spy into ``profile`` when given)."""
    warm_until = time.perf_counter() + WARM_UP_S
    await asyncio.gather(*(client(http, url, headers, warm_until, None) for _ in range(clients)))
    tally = Tally()
    spies = cpu.profile(profile, url.rpartition("/")[2], duration_s) if profile else []
    before = await cpu.read()
    began = time.perf_counter()
    await asyncio.gather(*(client(http, url, headers, began + duration_s, tally)
                           for _ in range(clients)))
    tally.elapsed_s = time.perf_counter() - began
    after = await cpu.read()
    tally.cpu_s = {who: after[who] - before.get(who, 0.0) for who in after}
    for spy in spies:
        await spy
    return tally


class CpuMeter:
    """CPU seconds (user + system) used so far by the portal, the backend, the PostgreSQL
    backends serving the bench's database, and this process (the load generator). A figure
    per request that a busy machine disturbs far less than req/s."""

    def __init__(self, platform: SpawnedPlatform, conn: asyncpg.Connection):
        self._pids = dict(platform.pids)
        self._conn = conn
        self._database = platform.pg_dsn.rpartition("/")[2]

    def profile(self, into: Path, name: str, duration_s: float) -> list[asyncio.Task[int]]:
        """py-spy on the portal and the backend for ``duration_s``: collapsed stacks in
        ``into/<name>-<service>.txt`` (summarise with bench/pyspy_top.py)."""
        into.mkdir(parents=True, exist_ok=True)
        slug = "".join(c if c.isalnum() else "_" for c in name)
        return [asyncio.create_task(_run(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-p",
             str(pid), "-d", str(int(duration_s)), "-r", "200", "--format", "raw", "-o",
             str(into / f"{slug}-{who}.txt")])) for who, pid in self._pids.items()]

    async def read(self) -> dict[str, float]:
        pg = await self._conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 "
                                    "AND pid <> pg_backend_pid()", self._database)
        used = {who: cpu_s(pid) for who, pid in self._pids.items()}
        used["postgres"] = sum(cpu_s(r["pid"]) for r in pg)
        used["load generator"] = time.process_time()
        return used


async def _run(argv: list[str]) -> int:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    return await proc.wait()


async def seed(platform: SpawnedPlatform, user: str, args: argparse.Namespace) -> None:
    """The deep queue (the user is one of ``--users``) and the user's cases."""
    conn = await asyncpg.connect(platform.pg_dsn)
    try:
        me = await conn.fetchval("SELECT id FROM users WHERE username = $1", user)
        others = [uuid.uuid4() for _ in range(args.users - 1)]
        await conn.executemany("INSERT INTO users (id, username, password_hash) "
                               "VALUES ($1, $2, 'x')", [(u, f"u{u.hex[:12]}") for u in others])
        queue = await seed_queue(conn, jobs=args.queued, users=args.users, apps=args.apps,
                                 priorities=(0, 0, 1, -1), user_ids=[me, *others])
        await conn.executemany(
            "INSERT INTO cases (owner_id, app_id, name, s3_key, sha256, size_bytes) "
            "VALUES ($1, $2, $3, $4, $5, 1000)",
            [(me, queue.apps[i % len(queue.apps)], f"case {i}", f"cases/{uuid.uuid4()}",
              "ab" * 32) for i in range(args.cases)])
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would have by now
    finally:
        await conn.close()


def row(path: str, t: Tally) -> str:
    return (f"  {path:<28} {t.rps:8.0f} req/s   p50 {t.pct(0.5) * 1e3:6.1f} ms   "
            f"p99 {t.pct(0.99) * 1e3:6.1f} ms   n {len(t.latencies):7d}   errors {t.errors}")


async def bench(args: argparse.Namespace, tmp: Path) -> None:
    no_cache = {"list_cache_ttl_s": "0", "jobs_cache_ttl_s": "0"}
    async with spawned_platform(tmp, log_level=args.log_level, root=args.services_root,
                                portal=no_cache if args.no_read_cache else None) as platform:
        admin = await platform.login(ADMIN_USER, ADMIN_PASSWORD)
        token = await platform.create_user(admin, "bench", "bench-password-1")
        await seed(platform, "bench", args)
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=args.clients)
        results: dict[str, Tally] = {}
        conn = await asyncpg.connect(platform.pg_dsn)
        try:
            cpu = CpuMeter(platform, conn)
            async with aiohttp.ClientSession(connector=connector) as http:
                for path in (*API, HEALTH):
                    results[path] = await load(http, platform.portal_url + path, headers,
                                               args.clients, args.duration, cpu, args.profile)
        finally:
            await conn.close()
    print(f"{args.clients} clients x {args.duration:g} s per endpoint; {args.queued} queued "
          f"jobs of {args.users} users ({args.queued // args.users} the bench user's), "
          f"{args.cases} cases, {args.apps} apps; services' log level {args.log_level}")
    for path, tally in results.items():
        print(row(path, tally))
    print("CPU ms per request (portal / backend / postgres / load generator):")
    for path, tally in results.items():
        print(f"  {path:<28} " + " / ".join(f"{tally.cpu_ms_per_request(who):5.2f}" for who in
                                            ("portal", "backend", "postgres", "load generator")))
    api = [results[p] for p in API]
    print(f"  median over the four: {statistics.median(t.rps for t in api):.0f} req/s")
    print(f"api: min_rps={min(t.rps for t in api):.0f} "
          f"max_p99_ms={max(t.pct(0.99) for t in api) * 1e3:.1f} "
          f"errors={sum(t.errors for t in api)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per endpoint")
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--log-level", default="info", help="of the services")
    parser.add_argument("--no-read-cache", action="store_true",
                        help="turn the portal's list caches off (every list read asks backend)")
    parser.add_argument("--profile", type=Path, help="py-spy each phase into this folder")
    parser.add_argument("--services-root", type=Path, default=ROOT,
                        help="checkout to run the services from (to compare with another)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-api-") as tmp:
        asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
