"""Helpers for the upload tests: send files, read JSON errors, prove nothing changed."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from modelport.case import write_case
from tests.support.stack import Snapshot, Stack

OCTETS = {"Content-Type": "application/octet-stream"}
LIMIT_MB = 1  # the portal tests' stack accepts uploads up to 1 MiB of each kind
TRANSPORT_DATA: dict[str, Any] = {
    "plants": ["seattle", "san-diego"],
    "capacity": {"seattle": 350.0, "san-diego": 600.0},
    "freight": 90.0,
}


async def upload(
    stack: Stack, path: str, data: bytes | AsyncIterator[bytes], token: str | None = None, *,
    form: bool = False, params: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST ``data`` as a raw body (or a form's ``file`` field); return status and JSON."""
    headers = stack.bearer(token or stack.admin_token)
    body: Any = data
    if form:
        body = aiohttp.FormData()
        body.add_field("file", data, filename="upload.bin",
                       content_type="application/octet-stream")
    else:
        headers.update(OCTETS)
    async with aiohttp.ClientSession() as http, http.post(
        stack.url(path), data=body, headers=headers, params=params
    ) as resp:
        return resp.status, await resp.json()


async def call(
    stack: Stack, method: str, path: str, token: str | None = None, *, anonymous: bool = False,
    **kwargs: Any,
) -> tuple[int, Any]:
    """Any API call (as the admin unless ``token`` or ``anonymous``); returns status and JSON
    (None for an empty body)."""
    headers = {} if anonymous else stack.bearer(token or stack.admin_token)
    async with aiohttp.ClientSession() as http, http.request(
        method, stack.url(path), headers=headers, **kwargs
    ) as resp:
        text = await resp.text()
        return resp.status, (await resp.json()) if text else None


def error_code(body: dict[str, Any]) -> str:
    """The code of a JSON error body, checking its shape on the way (``details`` only where
    an error carries some, e.g. ``quota_exceeded``)."""
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]) <= {
        "code", "message", "details"}, body
    return str(body["error"]["code"])


@contextlib.asynccontextmanager
async def unchanged(stack: Stack) -> AsyncIterator[Snapshot]:
    """Assert that S3 (keys, ETags, pending uploads) and PostgreSQL (every table's rows, by
    count and content digest) end as they began."""
    before = await stack.snapshot()
    yield before
    after = await stack.snapshot()
    assert after == before, f"changed:\n  before {before}\n  after  {after}"


def flip_byte(path: Path, offset: int, out: Path) -> Path:
    """A copy of ``path`` with the byte at ``offset`` (negative: from the end) inverted."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def case_bytes(app: str = "transport", version: str = "1.0.0", **data: Any) -> bytes:
    """A small valid case of ``app``."""
    buf = io.BytesIO()
    write_case(buf, app, version, {**TRANSPORT_DATA, **data})
    return buf.getvalue()


async def publish_transport(stack: Stack, runtime: str = "1.2.0") -> None:
    """Register a runtime and publish the transport example (version 1.0.0)."""
    status, body = await upload(stack, "/api/v1/runtimes", stack.pack_runtime(runtime).read_bytes())
    assert status == 201, body
    status, body = await upload(stack, "/api/v1/apps", stack.pack_app("transport").read_bytes())
    assert status == 201, body
