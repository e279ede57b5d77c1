"""The body of an upload, read as a stream of chunks, never whole.

Two shapes are accepted: the raw bytes (``Content-Type: application/octet-stream``, what the
CLI sends) and ``multipart/form-data`` whose *last* field is ``file`` (what a browser's
``FormData`` sends); small text fields may come before it. Sizes are checked twice: the
``Content-Length`` up front, and the bytes as they arrive, so a chunked or lying request gets
its 413 as soon as it crosses the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from common.errors import BadRequest, ModelportError, TooLarge

CHUNK_BYTES = 256 * 1024
MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and the small fields around the file
MAX_FIELD_BYTES = 4 * 1024
MAX_FIELDS = 16
FILE_FIELD = "file"
RAW_TYPES = ("application/octet-stream", "")
# What a body cut short looks like from inside aiohttp: the peer went away, or the multipart
# stream ended before its closing boundary.
_CUT_SHORT = (ConnectionError, ValueError)


class UnsupportedMediaType(ModelportError):
    code, status = "unsupported_media_type", 415


def truncated() -> BadRequest:
    return BadRequest("the upload ended before all of its bytes arrived", code="truncated")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"the upload is larger than the limit of {_size(max_bytes)}", code="too_large")


@dataclass
class UploadBody:
    """An upload being received. Read it once with :meth:`chunks`."""

    max_bytes: int
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    received: int = 0
    _raw: web.Request | None = None
    _multipart: MultipartReader | None = None
    _part: BodyPartReader | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; raises TooLarge past ``max_bytes``, BadRequest
        ``truncated`` when the body ends early or its multipart framing is broken."""
        try:
            async for chunk in self._source():
                self.received += len(chunk)
                if self.received > self.max_bytes:
                    raise too_large(self.max_bytes)
                yield chunk
            await self._check_end()
        except _CUT_SHORT:
            raise truncated() from None

    async def _source(self) -> AsyncIterator[bytes]:
        if self._raw is not None:
            async for chunk in self._raw.content.iter_chunked(CHUNK_BYTES):
                yield chunk
            return
        assert self._part is not None
        while chunk := await self._part.read_chunk(CHUNK_BYTES):
            yield chunk

    async def _check_end(self) -> None:
        """A multipart body must close right after the file field."""
        if self._multipart is not None and await self._multipart.next() is not None:
            raise BadRequest(f"the '{FILE_FIELD}' field must be the last of the form",
                             code="invalid_request")


async def open_upload(request: web.Request, max_bytes: int) -> UploadBody:
    """The upload in ``request``, positioned at the file's first byte.

    Raises TooLarge when the declared length is over the limit, UnsupportedMediaType for
    another content type, BadRequest when a form has no ``file`` field.
    """
    declared = request.content_length
    is_form = request.content_type == "multipart/form-data"
    slack = MULTIPART_SLACK if is_form else 0
    if declared is not None and declared > max_bytes + slack:
        raise too_large(max_bytes)
    if is_form:
        return await _open_form(request, max_bytes)
    if request.content_type not in RAW_TYPES:
        raise UnsupportedMediaType(
            f"send the file as application/octet-stream or as the '{FILE_FIELD}' field of "
            f"multipart/form-data, not {request.content_type}"
        )
    return UploadBody(max_bytes, _raw=request)


async def _open_form(request: web.Request, max_bytes: int) -> UploadBody:
    try:
        reader = await request.multipart()
        fields: dict[str, str] = {}
        for _ in range(MAX_FIELDS + 1):
            part = await reader.next()
            if not isinstance(part, BodyPartReader):
                break
            if part.name == FILE_FIELD:
                return UploadBody(max_bytes, part.filename or "", fields, _multipart=reader,
                                  _part=part)
            fields[part.name or ""] = await _small_field(part)
    except _CUT_SHORT:
        raise truncated() from None
    except HttpProcessingError:  # a part's headers aiohttp cannot read
        raise BadRequest("the form is malformed: a part's headers cannot be read",
                         code="invalid_request") from None
    raise BadRequest(f"the form has no '{FILE_FIELD}' field", code="invalid_request")


async def _small_field(part: BodyPartReader) -> str:
    data = b""
    while chunk := await part.read_chunk(MAX_FIELD_BYTES):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise BadRequest(f"form field {part.name!r} is too long", code="invalid_request")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"form field {part.name!r} is not UTF-8", code="invalid_request") from None


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.4g} {unit}"
