"""Runtime packages through the REST API: upload, list, show, delete, and every refusal.

Each refusal is a precise 4xx JSON error, and S3 (every key, staging included, and pending
multipart uploads) and PostgreSQL (every table, rows and contents) are exactly as before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.portal.uploads import (
    LIMIT_MB,
    call,
    error_code,
    flip_byte,
    unchanged,
    upload,
)
from tests.support.poll import until
from tests.support.stack import Stack

RUNTIMES = "/api/v1/runtimes"


async def test_round_trip(stack: Stack) -> None:
    package = stack.pack_runtime("1.2.0")
    status, runtime = await upload(stack, RUNTIMES, package.read_bytes())
    assert status == 201, runtime
    assert runtime["version"] == "1.2.0" and runtime["signer_key_id"] == stack.signing_key.key_id
    assert runtime["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()
    assert runtime["size_bytes"] == package.stat().st_size
    assert runtime["manifest"]["runtime_version"] == "1.2.0"

    status, listing = await call(stack, "GET", RUNTIMES)
    assert status == 200 and [r["version"] for r in listing["runtimes"]] == ["1.2.0"]
    status, shown = await call(stack, "GET", f"{RUNTIMES}/1.2.0")
    assert status == 200 and shown == runtime
    snapshot = await stack.snapshot()
    assert len(snapshot.s3_keys) == 1 and not snapshot.pending_uploads
    key = snapshot.s3_keys[0]
    assert key.startswith("runtimes/1.2.0/") and key.endswith("/runtime.mprt")
    assert await stack.s3_bytes(key) == package.read_bytes()


async def test_a_form_upload_works_too(stack: Stack) -> None:
    status, runtime = await upload(stack, RUNTIMES, stack.pack_runtime("2.0.0").read_bytes(),
                                   form=True)
    assert status == 201 and runtime["version"] == "2.0.0"


async def test_delete_removes_row_and_blob(stack: Stack) -> None:
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("1.0.0").read_bytes())
    assert status == 201
    status, body = await call(stack, "DELETE", f"{RUNTIMES}/1.0.0")
    assert status == 204 and body is None
    after = await stack.snapshot()
    assert after.s3_keys == [] and after.pending_uploads == [] and after.rows["runtimes"] == 0
    status, body = await call(stack, "GET", f"{RUNTIMES}/1.0.0")
    assert status == 404 and error_code(body) == "not_found"


@pytest.mark.parametrize(("mangle", "code"), [
    ("untrusted", "untrusted_key"),
    ("tampered_image", "tampered_member"),
    ("truncated", "truncated"),
    ("trailing_data", "not_a_package"),
    ("not_a_tar", "not_a_package"),
])
async def test_bad_packages_are_refused_leaving_nothing(
    stack: Stack, tmp_path: Path, mangle: str, code: str
) -> None:
    package = _bad_package(stack, tmp_path, mangle)
    async with unchanged(stack):
        status, body = await upload(stack, RUNTIMES, package)
        assert (status, error_code(body)) == (400, code), body


def _bad_package(stack: Stack, tmp_path: Path, mangle: str) -> bytes:
    if mangle == "untrusted":
        return stack.pack_runtime("1.0.0", key=stack.untrusted_key).read_bytes()
    good = stack.pack_runtime("1.0.0")
    if mangle == "tampered_image":
        return flip_byte(good, 5000, tmp_path / "tampered.mprt").read_bytes()
    if mangle == "truncated":
        return good.read_bytes()[: good.stat().st_size // 2]
    if mangle == "trailing_data":
        return good.read_bytes() + b"more bytes after the end"
    return b"this is not a runtime package at all" * 100


async def test_over_the_size_limit_is_413_up_front(stack: Stack) -> None:
    async with unchanged(stack):
        status, body = await upload(stack, RUNTIMES, b"\0" * (LIMIT_MB * 2**20 + 1))
        assert (status, error_code(body)) == (413, "too_large")


async def test_over_the_size_limit_is_413_while_streaming(stack: Stack) -> None:
    """Without a Content-Length (chunked), the bytes are counted as they arrive."""
    package = stack.pack_runtime("1.0.0", image_bytes=LIMIT_MB * 2**20 + 10_000).read_bytes()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(package), 64 * 1024):
            yield package[start:start + 64 * 1024]

    async with unchanged(stack):
        status, body = await upload(stack, RUNTIMES, chunked())
        assert (status, error_code(body)) == (413, "too_large")


async def test_duplicate_version_is_409(stack: Stack) -> None:
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("1.0.0").read_bytes())
    assert status == 201
    again = stack.pack_runtime("1.0.0").read_bytes()  # a new image, same version
    async with unchanged(stack):
        status, body = await upload(stack, RUNTIMES, again)
        assert (status, error_code(body)) == (409, "duplicate_version")


async def test_non_admin_upload_is_403(stack: Stack) -> None:
    token = await stack.create_user("bob", "bob-password-1")
    async with unchanged(stack):
        status, body = await upload(stack, RUNTIMES, stack.pack_runtime().read_bytes(), token)
        assert (status, error_code(body)) == (403, "forbidden")
        status, body = await call(stack, "DELETE", f"{RUNTIMES}/1.0.0", token)
        assert status == 403 and error_code(body) == "forbidden"


async def test_other_content_types_are_415(stack: Stack) -> None:
    async with unchanged(stack):
        status, body = await call(stack, "POST", RUNTIMES, json={"package": "no"})
        assert (status, error_code(body)) == (415, "unsupported_media_type")


async def test_a_form_without_a_file_is_400(stack: Stack) -> None:
    async with unchanged(stack):
        form = aiohttp.FormData({"other": "field"}, default_to_multipart=True)
        status, body = await call(stack, "POST", RUNTIMES, data=form)
        assert (status, error_code(body)) == (400, "invalid_request")


async def test_a_connection_dropped_mid_upload_leaves_nothing(stack: Stack) -> None:
    package = stack.pack_runtime("1.0.0").read_bytes()
    before = await stack.snapshot()
    host, port = stack.portal_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (f"POST {RUNTIMES} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
            f"{stack.admin_token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(package)}\r\n\r\n")
    writer.write(head.encode() + package[: len(package) // 2])
    await writer.drain()

    async def streaming() -> bool:
        return bool((await stack.snapshot()).pending_uploads)

    await until(streaming)  # the portal is writing the upload to S3
    writer.close()
    await writer.wait_closed()

    async def restored() -> bool:
        return await stack.snapshot() == before

    await until(restored)
    reader.feed_eof()
