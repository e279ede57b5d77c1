"""The agent's output protocol: one JSON object per line on stdout (JSON Lines).

Both sides use these models: the agent encodes its events with ``encode``, and the host
(solve_svc) turns each line it reads back into an event with ``parse_line``. Every line
carries ``"v": 1`` and a ``type``. A line that is not a protocol event (not JSON, not an
object, an unknown type or a malformed event) is never an error on the host: it becomes a
``LogEvent`` with ``source="raw"``, so a stray byte cannot break a job. See docs/agent.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_APP_EXCEPTION = 3
EXIT_INTERNAL = 4

# The serve protocol (docs/agent.md): 1 takes /work from the host's archive API, 2 takes its
# inputs on stdin and sends the result case on stdout. The runtime image's label
# SERVE_PROTOCOL_LABEL says which its agent speaks (no label: 1).
SERVE_PROTOCOL = 2
SERVE_PROTOCOL_LABEL = "org.modelport.agent.serve"

ErrorReason = Literal["app_exception", "invalid_data", "bad_app", "unknown_procedure",
                      "bad_transfer", "internal"]
LogSource = Literal["app", "stdout", "agent", "raw"]

EXIT_CODES: dict[str, int] = {
    "app_exception": EXIT_APP_EXCEPTION,
    "invalid_data": EXIT_INVALID,
    "bad_app": EXIT_INVALID,
    "unknown_procedure": EXIT_INVALID,
    "bad_transfer": EXIT_INVALID,
    "internal": EXIT_INTERNAL,
}


class _Event(BaseModel):
    """Fields every line has. Unknown extra fields are ignored, so v1 may grow."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = PROTOCOL_VERSION


class StartedEvent(_Event):
    """The app is loaded and the procedure is about to run (first line of a run)."""

    type: Literal["started"] = "started"
    app: str
    app_version: str
    procedure: str
    runtime_version: str | None = None
    pid: int
    time: str


class ProgressEvent(_Event):
    """A progress report; ``fraction`` never decreases within a run."""

    type: Literal["progress"] = "progress"
    fraction: float
    message: str = ""
    incumbent: float | None = None
    bound: float | None = None
    elapsed_s: float = 0.0


class LogEvent(_Event):
    """One log line: from ``ctx.log`` (``app``), the app's stdout (``stdout``), the agent
    itself (``agent``), or, on the host, a line that was not a protocol event (``raw``)."""

    type: Literal["log"] = "log"
    line: str
    source: LogSource = "app"


class CheckpointEvent(_Event):
    """A checkpoint of the run (``ctx.checkpoint``): what a re-run may resume from."""

    type: Literal["checkpoint"] = "checkpoint"
    values: dict[str, Any]


class ResultEvent(_Event):
    """The result case is written (last line of a successful run)."""

    type: Literal["result"] = "result"
    path: str
    sha256: str
    size: int
    interrupted: bool


class Issue(BaseModel):
    """One problem in the input data, naming identifier and element."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    identifier: str
    element: list[str] = Field(default_factory=list)
    message: str
    rule: str = "invalid"


class ErrorEvent(_Event):
    """The run failed (last line of a failed run); ``reason`` is machine-readable."""

    type: Literal["error"] = "error"
    reason: ErrorReason
    message: str
    traceback: str | None = None
    issues: list[Issue] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The agent's exit code that goes with this reason."""
        return EXIT_CODES[self.reason]


AgentEvent = Annotated[
    StartedEvent | ProgressEvent | LogEvent | CheckpointEvent | ResultEvent | ErrorEvent,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)
MAX_RAW_CHARS = 16_384


def encode(event: _Event) -> bytes:
    """The event as one protocol line: compact JSON, UTF-8, ending in a newline."""
    return event.model_dump_json().encode() + b"\n"


def parse_line(line: bytes | str) -> AgentEvent:
    """Parse one line of the agent's stdout; never raises.

    Returns the protocol event, or a ``LogEvent(source="raw")`` holding the line (cut to
    MAX_RAW_CHARS) when it is not one. Blank lines become an empty raw log line.
    """
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    try:
        obj: Any = json.loads(text)
    except ValueError:
        return _raw(text)
    if not isinstance(obj, dict) or "type" not in obj:
        return _raw(text)
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError:
        return _raw(text)


def _raw(text: str) -> LogEvent:
    return LogEvent(line=text[:MAX_RAW_CHARS], source="raw")
