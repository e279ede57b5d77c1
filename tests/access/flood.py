"""A sign-in flood from its own process, as an attacker's would be (not on the services' loop).

``python -m tests.access.flood URL VICTIM COUNT`` sends COUNT wrong passwords for VICTIM in a
row while three clients spray unknown names, and prints one JSON list of
``[status, retry_after, body]`` for the victim's attempts.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp


async def _attempt(http: aiohttp.ClientSession, username: str, password: str) -> list[object]:
    async with http.post("/api/v1/auth/login",
                         json={"username": username, "password": password}) as resp:
        return [resp.status, resp.headers.get("Retry-After"), await resp.json()]


async def flood(url: str, victim: str, count: int) -> list[list[object]]:
    async with aiohttp.ClientSession(base_url=url) as http:
        async def spray(i: int) -> None:  # unknown names: argon2 work on every one
            for j in range(3):
                await _attempt(http, f"nobody-{i}-{j}", "wrong-password")

        sprayers = [asyncio.create_task(spray(i)) for i in range(3)]
        try:
            return [await _attempt(http, victim, f"wrong-{n}") for n in range(count)]
        finally:
            await asyncio.gather(*sprayers)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
