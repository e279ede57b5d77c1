"""The agent's requests, served for one session as its owner: case bytes go to and come from
S3 here (the container has no credential), and backend's session-scoped methods decide, as
for the owner's own calls, what is allowed. Every request gets exactly one reply; a refusal
carries a protocol error code and the platform's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog
from pydantic import BaseModel, ValidationError

from common.contracts.jobs import BlobRef
from common.errors import ModelportError, RpcTimeout
from common.storage import S3Storage
from modelport.agent.session_protocol import (
    CancelJobParams,
    CancelJobResult,
    CaseInfo,
    FetchResultParams,
    FetchResultResult,
    ListCasesResult,
    OpenCaseParams,
    OpenCaseResult,
    Reply,
    ReplyError,
    RequestMessage,
    SaveCaseParams,
    SaveCaseResult,
    SubmitJobParams,
    SubmitJobResult,
    decode_content,
    encode_content,
    parse_params,
)
from session_svc.backend import BackendLink, Held

log = structlog.get_logger(__name__)
_CODES = {400: "invalid", 403: "forbidden", 404: "not_found", 409: "invalid", 413: "too_large",
          503: "unavailable", 504: "timeout"}


class OwnerActs:
    """Serves one session's requests; ``watch`` is told of each job it submits."""

    def __init__(self, held: Held, backend: BackendLink, storage: S3Storage, *,
                 max_case_bytes: int, watch: Callable[[str], None]) -> None:
        self.held, self.backend, self.storage = held, backend, storage
        self.max_case_bytes = max_case_bytes
        self._watch = watch

    async def __call__(self, request: RequestMessage) -> Reply:
        """The reply to ``request`` (never raises, except on cancel)."""
        try:
            params = parse_params(request.method, request.params)
            result = await getattr(self, request.method)(params)
        except KeyError:
            return _error(request.id, "unknown_method", f"no method {request.method!r}")
        except ValidationError as exc:
            return _error(request.id, "invalid", str(exc).splitlines()[0])
        except ValueError as exc:  # content not base64, or too large
            return _error(request.id, "too_large" if "exceeds" in str(exc) else "invalid",
                          str(exc))
        except RpcTimeout as exc:
            return _error(request.id, "timeout", exc.message)
        except ModelportError as exc:
            code = "wrong_app" if exc.code == "case_app_mismatch" else _CODES.get(exc.status,
                                                                                  "internal")
            return _error(request.id, code, exc.message)
        except Exception:
            log.exception("session_request_failed", method=request.method)
            return _error(request.id, "internal", "the platform could not do this")
        return Reply(id=request.id, ok=True, result=result.model_dump(mode="json"))

    async def _store(self, content: str) -> BlobRef:
        data = decode_content(content)
        if len(data) > self.max_case_bytes:
            raise ValueError(f"the case of {len(data)} bytes exceeds {self.max_case_bytes}")
        stored = await self.storage.put_bytes(f"cases/{uuid.uuid4()}", data)
        return BlobRef(s3_key=stored.key, sha256=stored.sha256, size_bytes=stored.size)

    async def _load(self, blob: BlobRef) -> str:
        data = await self.storage.read_bytes(blob.s3_key)
        return encode_content(data)

    async def save_case(self, params: SaveCaseParams) -> SaveCaseResult:
        blob = await self._store(params.content)
        case = await self.backend.save_case(self.held, name=params.name, blob=blob,
                                            case_id=params.case_id, autosave=params.autosave)
        if params.autosave:
            self.held.autosave_case_id = case.id
        return SaveCaseResult(case_id=case.id, name=case.name)

    async def open_case(self, params: OpenCaseParams) -> OpenCaseResult:
        found = await self.backend.open_case(self.held, params.case_id)
        return OpenCaseResult(case_id=found.case.id, name=found.case.name,
                              content=await self._load(found.blob))

    async def list_cases(self, params: BaseModel) -> ListCasesResult:
        found = await self.backend.list_cases(self.held)
        return ListCasesResult(cases=[
            CaseInfo(case_id=c.id, name=c.name, created_at=c.created_at.isoformat(),
                     autosave=c.id == found.autosave_case_id) for c in found.cases])

    async def submit_job(self, params: SubmitJobParams) -> SubmitJobResult:
        blob = await self._store(params.content)
        job = await self.backend.submit_job(self.held, procedure=params.procedure, blob=blob,
                                            options=params.options)
        self._watch(job.id)
        return SubmitJobResult(job_id=job.id)

    async def fetch_result(self, params: FetchResultParams) -> FetchResultResult:
        found = await self.backend.job(self.held, params.job_id)
        if found.output is None:
            raise ModelportError(f"job is {found.job.state}; it has no result",
                                 code="no_result", status=409)
        return FetchResultResult(content=await self._load(found.output))

    async def cancel_job(self, params: CancelJobParams) -> CancelJobResult:
        job = await self.backend.cancel_job(self.held, params.job_id)
        return CancelJobResult(state=job.state)


def _error(request_id: str, code: str, message: str) -> Reply:
    return Reply(id=request_id, ok=False, error=ReplyError(code=code, message=message[:500]))

