"""Cases: upload (checked to be a case of the named app), verified download, delete and diff.

A case's bytes live at ``cases/{case_id}``; the portal picks the id (a UUID), so the upload goes
straight to its final key. As for packages (see ``depot.py``), the multipart upload completes
only after the case reader accepted the bytes, and a refusal by the backend removes the object.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import structlog
from aiohttp import web

from common.contracts.cases import CASE_NAME_MAX, CaseOut
from common.contracts.methods import CaseMethods, RegistryMethods
from common.contracts.registry import AppOut
from common.errors import BadRequest
from modelport.case import CaseError, Limits, diff_cases
from portal_svc.auth import Caller
from portal_svc.backend_client import BackendClient
from portal_svc.files.bodies import UploadBody, open_upload
from portal_svc.files.bucket import PortalStorage
from portal_svc.files.checks import CaseChecked, case_check, case_error, read_checked_case
from portal_svc.files.streaming import Checked, store_checked

log = structlog.get_logger(__name__)
SPOOL_BYTES = 16 << 20
CASE_LIMITS = Limits()


@dataclass(frozen=True)
class CaseDownload:
    """A case and its bytes, verified against the recorded sha256 as they stream."""

    case: CaseOut
    chunks: AsyncIterator[bytes]


class CaseStore:
    def __init__(self, storage: PortalStorage, backend: BackendClient, max_bytes: int):
        self.storage = storage
        self.backend = backend
        self.max_bytes = max_bytes

    async def upload(
        self, caller: Caller, request: web.Request, *, app: str | None = None,
        name: str | None = None,
    ) -> CaseOut:
        """Store the case in ``request``'s body as a case of ``app`` (else the form's ``app``
        field), named ``name`` (else the form's ``name`` field, else the file's name).

        404 for an unknown app; 400 with the case reader's code (``not_a_case``,
        ``wrong_app``, ...) for a file that does not fit. Nothing is kept on any failure.
        """
        body = await open_upload(request, self.max_bytes)
        app = app or body.fields.get("app", "")
        if not app:
            raise BadRequest("say which app the case belongs to ('app')", code="invalid_request")
        found_app = await self.backend.call(
            RegistryMethods.GET_APP, actor=caller.principal, name=app)
        case_name = _case_name(name, body, app)
        case_id = str(uuid.uuid4())
        key = f"cases/{case_id}"
        checked = await store_checked(self.storage, key, body.chunks(),
                                      case_check(app, CASE_LIMITS))
        case = await self.storage.keep_if_registered(
            key, self._register(caller, case_id, key, found_app, case_name, checked))
        log.info("case_stored", case_id=case.id, app=app, size=case.size_bytes)
        return case

    async def _register(
        self, caller: Caller, case_id: str, key: str, app: AppOut, name: str,
        checked: Checked[CaseChecked],
    ) -> CaseOut:
        return await self.backend.call(
            CaseMethods.REGISTER, actor=caller.principal, case_id=case_id, app=app.name, name=name,
            s3_key=key, app_version=_published(app, checked.result.app_version),
            sha256=checked.stored.sha256, size_bytes=checked.stored.size)

    async def download(self, caller: Caller, case_id: str) -> CaseDownload:
        """The case's bytes; 404 for a case the caller may not read. The first chunk is
        fetched here, so a missing object fails before any response is sent."""
        location = await self.backend.call(CaseMethods.GET, actor=caller.principal, case_id=case_id)
        chunks = self.storage.download(location.s3_key)
        first = await anext(chunks, b"")
        return CaseDownload(location.case, _prepend(first, chunks))

    async def delete(self, caller: Caller, case_id: str) -> None:
        """Forget the case, then remove its bytes."""
        location = await self.backend.call(
            CaseMethods.DELETE, actor=caller.principal, case_id=case_id)
        await self.storage.discard(location.s3_key)

    async def diff(self, caller: Caller, old_id: str, new_id: str) -> dict[str, Any]:
        """What changed from case ``old_id`` to ``new_id`` (``CaseDiff.to_dict()``); 400
        ``wrong_app`` when they belong to different apps."""
        old = await self.backend.call(CaseMethods.GET, actor=caller.principal, case_id=old_id)
        new = await self.backend.call(CaseMethods.GET, actor=caller.principal, case_id=new_id)
        if old.case.app != new.case.app:
            raise BadRequest(f"cannot compare a case of {old.case.app!r} with one of "
                             f"{new.case.app!r}", code="wrong_app")
        with _spool() as old_file, _spool() as new_file:
            await self._fetch(old.s3_key, old_file)
            await self._fetch(new.s3_key, new_file)
            return await asyncio.to_thread(_diff, old_file, new_file)

    async def _fetch(self, key: str, out: IO[bytes]) -> None:
        async for chunk in self.storage.download(key):
            out.write(chunk)
        out.seek(0)


def _spool() -> tempfile.SpooledTemporaryFile[bytes]:
    return tempfile.SpooledTemporaryFile(SPOOL_BYTES)


def _diff(old: IO[bytes], new: IO[bytes]) -> dict[str, Any]:
    try:
        result = diff_cases(read_checked_case(old, CASE_LIMITS),
                            read_checked_case(new, CASE_LIMITS))
    except CaseError as exc:
        raise case_error(exc) from None
    return result.to_dict()


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _case_name(name: str | None, body: UploadBody, app: str) -> str:
    """The name asked for, else the form's, else the file's stem, else "<app> case"."""
    chosen = (name or body.fields.get("name") or PurePosixPath(body.filename).stem
              or f"{app} case").strip()
    if not chosen or len(chosen) > CASE_NAME_MAX:
        raise BadRequest(f"a case name has 1 to {CASE_NAME_MAX} characters",
                         code="invalid_request")
    return chosen


def _published(app: AppOut, version: str) -> str | None:
    """The case's app version when it is a published one, else None (cases outlive versions)."""
    return version if any(v.version == version for v in app.versions) else None
