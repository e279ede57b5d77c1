"""The control channel of a data session: JSON lines between the agent and its host.

In session mode (``python -m modelport.agent session``) the agent's stdin carries lines from
the host (session_svc, or a test) and its stdout lines to the host, because a session
container reaches nothing on the network. Each line is one compact JSON object with ``"v"``
and a ``type``:

host → agent                               agent → host
- ``start``  (once, first)                  - ``ready``   (serving; once)
- ``stop``   (autosave, then exit)          - ``stopped`` (last line before exit 0)
- ``ping``   → ``pong``                     - ``pong``
- ``notice`` (a banner for the page)        - ``request`` (a ``method`` with ``params``)
- ``reply``  (to a request, by ``id``)      - ``log``     (a line for the session's log)
- ``job``    (progress of a submitted job)  - ``error``   (start failed; last line, exit ≠ 0)

Requests name a ``method`` of :data:`METHODS`; each method has one params model and one
result model, so both sides validate the same shapes. Robustness rule, as in the job
protocol: a line that is not a valid message never breaks the channel. The host's
``parse_agent_line`` turns it into a ``LogMessage(source="raw")``; the agent's
``parse_host_line`` returns None for it (the agent logs it to stderr and answers a malformed
``ping`` or ``stop`` by nothing). Lines longer than MAX_LINE_BYTES are skipped by both
sides' readers (``read_lines``). See docs/agent.md §4.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SESSION_PROTOCOL_VERSION = 1
MAX_CONTENT_BYTES = 32 * 1024 * 1024
"""Largest case (bytes before base64) a ``content`` field may carry."""
MAX_LINE_BYTES = MAX_CONTENT_BYTES * 4 // 3 + 64 * 1024
"""Longest line either side reads; longer lines are skipped whole."""
DEFAULT_AUTOSAVE_S = 300.0
TERMINAL_JOB_STATES = frozenset({"succeeded", "failed", "cancelled"})

JobState = Literal["queued", "scheduled", "running", "succeeded", "failed", "cancelled", "lost"]
ErrorCode = Literal["not_found", "forbidden", "invalid", "wrong_app", "too_large",
                    "unavailable", "unknown_method", "timeout", "internal"]
StartFailure = Literal["bad_request", "bad_app", "bad_case", "port_in_use", "internal"]


class _Message(BaseModel):
    """Fields every line has; unknown extra fields are ignored, so version 1 may grow."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = SESSION_PROTOCOL_VERSION


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- content ----------------------------------------------------------------------------


def encode_content(data: bytes) -> str:
    """Case bytes as the base64 text of a ``content`` field; ValueError when too large."""
    if len(data) > MAX_CONTENT_BYTES:
        raise ValueError(f"content of {len(data)} bytes exceeds {MAX_CONTENT_BYTES}")
    return base64.b64encode(data).decode("ascii")


def decode_content(text: str) -> bytes:
    """The bytes of a ``content`` field; ValueError when it is not base64 or too large."""
    if len(text) > MAX_CONTENT_BYTES * 4 // 3 + 4:
        raise ValueError("content exceeds the size limit")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"content is not base64: {exc}") from None


# --- host → agent ------------------------------------------------------------------------


class StartCommand(_Message):
    """Start serving: load ``app``, lay the initial case (a file in the container, or its
    bytes) over the defaults, listen on ``host:port`` (0: any free port) under
    ``base_path``, autosave every ``autosave_s`` seconds (0: only on stop)."""

    type: Literal["start"] = "start"
    app: str
    port: int = Field(ge=0, le=65535)
    host: str = "0.0.0.0"
    base_path: str = "/"
    autosave_s: float = Field(DEFAULT_AUTOSAVE_S, ge=0)
    case_path: str | None = None
    case_content: str | None = None
    case_id: str | None = None
    case_name: str | None = None
    autosave_case_id: str | None = None
    session_id: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class StopCommand(_Message):
    """Autosave (when there are unsaved changes), answer ``stopped`` and exit."""

    type: Literal["stop"] = "stop"
    reason: str = ""


class PingCommand(_Message):
    """Liveness check; the agent answers ``pong`` with the same ``id``."""

    type: Literal["ping"] = "ping"
    id: str


class NoticeCommand(_Message):
    """A message every open page shows, e.g. an idle warning before the session stops."""

    type: Literal["notice"] = "notice"
    message: str
    level: Literal["info", "warning"] = "info"


class ReplyError(_Strict):
    code: ErrorCode | str
    message: str


class Reply(_Message):
    """The answer to the agent's request ``id``: ``result`` when ``ok``, else ``error``."""

    type: Literal["reply"] = "reply"
    id: str
    ok: bool
    result: dict[str, Any] | None = None
    error: ReplyError | None = None


class JobEvent(_Message):
    """News about a job the session submitted; the host sends them until a terminal state."""

    type: Literal["job"] = "job"
    job_id: str
    state: JobState
    progress: float | None = Field(None, ge=0, le=1)
    message: str = ""
    incumbent: float | None = None
    bound: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES


HostMessage = Annotated[
    StartCommand | StopCommand | PingCommand | NoticeCommand | Reply | JobEvent,
    Field(discriminator="type"),
]


# --- requests: params and results of each method ------------------------------------------


class SaveCaseParams(_Strict):
    """Store a case of the session's app: a new one, or overwrite ``case_id``."""

    name: str = Field(min_length=1, max_length=200)
    autosave: bool = False
    content: str
    case_id: str | None = None


class SaveCaseResult(_Strict):
    case_id: str
    name: str


class OpenCaseParams(_Strict):
    case_id: str


class OpenCaseResult(_Strict):
    case_id: str
    name: str
    content: str


class ListCasesParams(_Strict):
    pass


class CaseInfo(_Strict):
    case_id: str
    name: str
    created_at: str | None = None
    autosave: bool = False


class ListCasesResult(_Strict):
    cases: list[CaseInfo]


class SubmitJobParams(_Strict):
    """Run ``procedure`` on the case ``content`` as a solve job."""

    procedure: str
    content: str
    options: dict[str, Any] = Field(default_factory=dict)


class SubmitJobResult(_Strict):
    job_id: str


class FetchResultParams(_Strict):
    job_id: str


class FetchResultResult(_Strict):
    content: str


class CancelJobParams(_Strict):
    job_id: str


class CancelJobResult(_Strict):
    state: str


Method = Literal["save_case", "open_case", "list_cases", "submit_job", "fetch_result",
                 "cancel_job"]
METHODS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "save_case": (SaveCaseParams, SaveCaseResult),
    "open_case": (OpenCaseParams, OpenCaseResult),
    "list_cases": (ListCasesParams, ListCasesResult),
    "submit_job": (SubmitJobParams, SubmitJobResult),
    "fetch_result": (FetchResultParams, FetchResultResult),
    "cancel_job": (CancelJobParams, CancelJobResult),
}


# --- agent → host ------------------------------------------------------------------------


class ReadyEvent(_Message):
    """The agent serves on ``port`` (the real one when 0 was asked) under ``base_path``."""

    type: Literal["ready"] = "ready"
    port: int
    base_path: str
    app: str
    app_version: str
    pid: int


class PongEvent(_Message):
    """Answer to ``ping``; ``idle_s`` is the time since a page last asked anything."""

    type: Literal["pong"] = "pong"
    id: str
    idle_s: float
    dirty: bool


class RequestMessage(_Message):
    """The agent asks the platform something; the host answers with a ``reply``."""

    type: Literal["request"] = "request"
    id: str
    method: Method
    params: dict[str, Any] = Field(default_factory=dict)


class LogMessage(_Message):
    """A line for the session's log; ``raw`` marks a host-side line that was no message."""

    type: Literal["log"] = "log"
    line: str
    source: Literal["agent", "app", "stdout", "raw"] = "agent"


class StoppedEvent(_Message):
    """Last line of a stop: whether the autosave succeeded (or was not needed)."""

    type: Literal["stopped"] = "stopped"
    reason: str = ""
    autosaved: bool
    case_id: str | None = None
    message: str = ""


class StartError(_Message):
    """The session could not start (last line; the agent exits with 2 or 4)."""

    type: Literal["error"] = "error"
    reason: StartFailure
    message: str
    issues: list[dict[str, Any]] = Field(default_factory=list)


AgentMessage = Annotated[
    ReadyEvent | PongEvent | RequestMessage | LogMessage | StoppedEvent | StartError,
    Field(discriminator="type"),
]

_HOST: TypeAdapter[HostMessage] = TypeAdapter(HostMessage)
_AGENT: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)
MAX_RAW_CHARS = 16_384


def encode(message: BaseModel) -> bytes:
    """One line: compact JSON, UTF-8, ending in a newline."""
    return message.model_dump_json().encode() + b"\n"


def _load(line: bytes | str) -> Any:
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_host_line(line: bytes | str) -> HostMessage | None:
    """A host message, or None for anything else (never raises)."""
    obj = _load(line)
    if not isinstance(obj, dict):
        return None
    try:
        return _HOST.validate_python(obj)
    except ValidationError:
        return None


def parse_agent_line(line: bytes | str) -> AgentMessage:
    """An agent message, or a ``LogMessage(source="raw")`` holding the line (never raises)."""
    obj = _load(line)
    if isinstance(obj, dict):
        try:
            return _AGENT.validate_python(obj)
        except ValidationError:
            pass
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    return LogMessage(line=text.rstrip("\r\n")[:MAX_RAW_CHARS], source="raw")


def parse_params(method: str, params: dict[str, Any]) -> BaseModel:
    """The params model of ``method``; raises KeyError (unknown method) or ValidationError."""
    return METHODS[method][0].model_validate(params)


def parse_result(method: str, result: dict[str, Any] | None) -> BaseModel:
    """The result model of ``method``; raises KeyError or ValidationError."""
    return METHODS[method][1].model_validate(result or {})


async def read_lines(reader: asyncio.StreamReader,
                     max_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[bytes]:
    """Complete lines from ``reader`` until EOF; a line longer than ``max_bytes`` is skipped
    whole (the reader's own limit may be smaller than that: it only sizes its buffer)."""
    pending = bytearray()
    skipping = False
    while chunk := await reader.read(1 << 16):
        pending += chunk
        while (end := pending.find(b"\n")) >= 0:
            line, pending = bytes(pending[:end]), pending[end + 1:]
            if not skipping and len(line) <= max_bytes:
                yield line
            skipping = False
        if len(pending) > max_bytes:
            pending.clear()
            skipping = True
    if pending and not skipping and len(pending) <= max_bytes:
        yield bytes(pending)
