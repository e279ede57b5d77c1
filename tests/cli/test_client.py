"""The portal client's transfers, against a small real aiohttp server on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from modelport.client import ApiError, ChecksumMismatch, PortalClient

BODY = bytes(range(256)) * 12_000  # ~3 MB: several chunks


class Recorder:
    """Counts what a transfer reports."""

    def __init__(self) -> None:
        self.total: int | None = -1
        self.moved = 0

    def start(self, total: int | None) -> None:
        self.total = total

    def advance(self, size: int) -> None:
        self.moved += size


async def _upload(request: web.Request) -> web.Response:
    data = await request.read()
    return web.json_response({"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                              "length": request.content_length, "auth": request.headers.get(
                                  "Authorization"), "query": dict(request.query)}, status=201)


async def _download(request: web.Request) -> web.Response:
    announced = request.match_info["case_id"] if request.match_info["case_id"] != "good" else (
        hashlib.sha256(BODY).hexdigest())
    return web.Response(body=BODY, headers={"X-Checksum-SHA256": announced})


async def _refuse(request: web.Request) -> web.Response:
    return web.json_response({"error": {"code": "no_way", "message": "not today"}}, status=409)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application(client_max_size=16 << 20)
    app.router.add_post("/api/v1/cases", _upload)
    app.router.add_get("/api/v1/cases/{case_id}/download", _download)
    app.router.add_get("/api/v1/runtimes", _refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_upload_streams_with_length_token_and_progress(server: str, tmp_path: Path) -> None:
    source = tmp_path / "case.bin"
    source.write_bytes(BODY)
    progress = Recorder()
    async with PortalClient(server, "tok") as portal:
        reply = await portal.upload_case(source, app="a b", name="n", progress=progress)
    assert reply == {"size": len(BODY), "sha256": hashlib.sha256(BODY).hexdigest(),
                     "length": len(BODY), "auth": "Bearer tok",
                     "query": {"app": "a b", "name": "n"}}
    assert (progress.total, progress.moved) == (len(BODY), len(BODY))


async def test_download_checks_the_announced_sha256(server: str, tmp_path: Path) -> None:
    progress = Recorder()
    async with PortalClient(server) as portal:
        digest = await portal.download_case("good", tmp_path / "ok.bin", progress)
        assert digest == hashlib.sha256(BODY).hexdigest()
        with pytest.raises(ChecksumMismatch):
            await portal.download_case("0" * 64, tmp_path / "bad.bin")
    assert (tmp_path / "ok.bin").read_bytes() == BODY
    assert (progress.total, progress.moved) == (len(BODY), len(BODY))
    assert not (tmp_path / "bad.bin").exists() and not (tmp_path / "bad.bin.part").exists()


async def test_error_body_becomes_api_error(server: str) -> None:
    async with PortalClient(server) as portal:
        with pytest.raises(ApiError) as caught:
            await portal.list_runtimes()
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        409, "no_way", "not today")
    assert str(caught.value) == "not today (no_way, HTTP 409)"
