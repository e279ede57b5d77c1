"""Sending a stored case to a client, verified against its recorded sha256 as it streams.

The object's checksum is known only after its last byte, so the last chunk is held back until
the download verified: on a mismatch the connection is cut before the body is complete, and
the client sees a short transfer instead of a file that looks whole.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from aiohttp import web

from common.storage import ChecksumMismatch
from modelport.case import SUFFIX
from portal_svc.files.cases import CaseDownload

log = structlog.get_logger(__name__)
SHA256_HEADER = "X-Checksum-SHA256"


async def send_case(request: web.Request, download: CaseDownload) -> web.StreamResponse:
    """Stream ``download`` as an attachment with Content-Length and the sha256 header."""
    case = download.case
    response = web.StreamResponse(headers={
        "Content-Type": "application/octet-stream",
        "Content-Length": str(case.size_bytes),
        "Content-Disposition": _attachment(case.name + SUFFIX),
        SHA256_HEADER: case.sha256,
    })
    await response.prepare(request)
    held = b""
    try:
        async for chunk in download.chunks:
            if held:
                await response.write(held)
            held = chunk
    except ChecksumMismatch:
        log.error("download_cut", case_id=case.id, reason="checksum_mismatch")
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write(held)
    await response.write_eof()
    return response


def _attachment(filename: str) -> str:
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in " ._-") else "_"
                         for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
