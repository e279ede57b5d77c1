"""What the Idempotency-Key tests of ``POST /api/v1/jobs`` and ``POST /api/v1/sessions``
share: the keyed request, the ids listed, the bad keys and the burst of concurrent duplicates.
Both run on the ``jobs`` stack (tests/portal/conftest.py: transport published)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.portal.uploads import call, error_code
from tests.support.stack import Stack

BAD_KEYS = ("x" * 201, "has space", "naïve")


async def post(stack: Stack, path: str, key: str | None, body: dict[str, Any],
               token: str | None = None) -> tuple[int, Any]:
    """POST ``body`` to ``path`` as ``token``'s user (default: the admin) with ``key``."""
    headers = {} if key is None else {"Idempotency-Key": key}
    headers |= stack.bearer(token or stack.admin_token)
    async with aiohttp.ClientSession() as http, http.post(
        stack.url(path), json=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def listed_ids(stack: Stack, path: str) -> list[str]:
    """The sorted ids ``GET path`` lists (``/api/v1/jobs`` lists ``jobs``, and so on)."""
    status, page = await call(stack, "GET", path, params={"limit": "500"})
    assert status == 200
    return sorted(item["id"] for item in page[path.rsplit("/", 1)[1]])


async def bad_keys_refused(stack: Stack, path: str, body: dict[str, Any]) -> None:
    """Every malformed key is refused with 400 ``bad_idempotency_key`` and nothing changes."""
    before = await stack.snapshot()
    for key in BAD_KEYS:
        headers = stack.bearer(stack.admin_token)
        async with aiohttp.ClientSession() as http, http.post(
            stack.url(path), json=body,
            headers={**headers, "Idempotency-Key": key.encode().decode("latin-1")},
        ) as resp:
            reply = await resp.json()
            assert resp.status == 400 and error_code(reply) == "bad_idempotency_key", reply
            assert "Idempotency-Key" in reply["error"]["message"]
    assert await stack.snapshot() == before


async def burst(stack: Stack, path: str, body: dict[str, Any], status: int) -> set[str]:
    """12 concurrent requests under one key: all answer ``status``; the ids they name."""
    replies = await asyncio.gather(*(post(stack, path, "burst", body) for _ in range(12)))
    assert {code for code, _ in replies} == {status}, replies
    return {reply["id"] for _, reply in replies}
