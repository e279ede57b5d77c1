"""The ``Idempotency-Key`` header of the create requests (``POST /api/v1/jobs``,
``POST /api/v1/sessions``): read and checked here, honoured by backend."""

from __future__ import annotations

import re

from aiohttp import web

from common.errors import BadRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, as HTTP tokens are


def idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key, or None; 400 for an empty, long or non-ASCII one."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 200 visible ASCII characters "
                         "(no spaces)", code="bad_idempotency_key")
    return key
