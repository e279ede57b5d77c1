"""A test-side host of ``python -m modelport.agent session``: it speaks the control channel
over the agent's stdin/stdout as session_svc would, keeps cases in memory, and answers
``submit_job`` by running the job agent (``run``) on the case locally, so Solve really solves.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelport.agent import ErrorEvent, ProgressEvent, ResultEvent, parse_line
from modelport.agent.session_protocol import (
    MAX_LINE_BYTES,
    AgentMessage,
    JobEvent,
    ReadyEvent,
    Reply,
    ReplyError,
    RequestMessage,
    StartCommand,
    decode_content,
    encode,
    encode_content,
    parse_agent_line,
    parse_params,
    read_lines,
)
from tests.agent.support import agent_env

SESSION = [sys.executable, "-m", "modelport.agent", "session"]


@dataclass
class StoredCase:
    case_id: str
    name: str
    content: bytes
    autosave: bool


class SessionHost:
    """Starts the agent in session mode and plays the platform's side of the channel."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or SESSION
        self.messages: list[AgentMessage] = []
        self.requests: list[RequestMessage] = []
        self.cases: dict[str, StoredCase] = {}
        self.refuse: dict[str, str] = {}       # method -> error code to answer with
        self.hold: dict[str, asyncio.Event] = {}  # method -> answer only once set
        self.work = Path(tempfile.mkdtemp(prefix="mp-session-host-"))
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self.app_dir: Path | None = None

    async def launch(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=agent_env(), limit=MAX_LINE_BYTES)
        self._spawn(self._read())
        self._spawn(self._read_stderr())

    async def start(self, app: Path, **fields: Any) -> ReadyEvent:
        """Launch, send ``start`` and wait for ``ready``."""
        self.app_dir = app
        if self.proc is None:
            await self.launch()
        fields.setdefault("port", 0)
        fields.setdefault("host", "127.0.0.1")
        await self.send(StartCommand(app=str(app), **fields))
        ready = await self.wait_for(lambda m: m.type in ("ready", "error"), 60)
        assert isinstance(ready, ReadyEvent), (ready, self.stderr.decode())
        return ready

    # -- channel --------------------------------------------------------------------------

    async def send(self, message: BaseModel) -> None:
        await self.send_raw(encode(message))

    async def send_raw(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def wait_for(self, predicate: Callable[[AgentMessage], bool],
                       timeout_s: float, after: int = 0) -> AgentMessage:
        """The first message (from index ``after``) matching ``predicate``."""
        async def find() -> AgentMessage:
            async with self._changed:
                while True:
                    for message in self.messages[after:]:
                        if predicate(message):
                            return message
                    await self._changed.wait()
        return await asyncio.wait_for(find(), timeout_s)

    async def exit_code(self, timeout_s: float = 30) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout_s)

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._tasks:
            task.cancel()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in read_lines(self.proc.stdout):
            message = parse_agent_line(line)
            async with self._changed:
                self.messages.append(message)
                self._changed.notify_all()
            if isinstance(message, RequestMessage):
                self.requests.append(message)
                self._spawn(self._answer(message))

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk

    # -- the platform's side ----------------------------------------------------------------

    async def _answer(self, request: RequestMessage) -> None:
        if request.method in self.hold:
            await self.hold[request.method].wait()
        if request.method in self.refuse:
            code = self.refuse[request.method]
            await self.send(Reply(id=request.id, ok=False,
                                  error=ReplyError(code=code, message=f"refused: {code}")))
            return
        params = parse_params(request.method, request.params)
        try:
            result = await getattr(self, f"_{request.method}")(params)
        except KeyError as exc:
            await self.send(Reply(id=request.id, ok=False, error=ReplyError(
                code="not_found", message=f"no such thing: {exc}")))
            return
        await self.send(Reply(id=request.id, ok=True, result=result))

    def add_case(self, name: str, content: bytes, autosave: bool = False) -> str:
        case_id = f"case-{next(self._ids)}"
        self.cases[case_id] = StoredCase(case_id, name, content, autosave)
        return case_id

    async def _save_case(self, params: Any) -> dict[str, Any]:
        content = decode_content(params.content)
        if params.case_id and params.case_id in self.cases:
            self.cases[params.case_id] = StoredCase(params.case_id, params.name, content,
                                                    params.autosave)
            case_id = params.case_id
        else:
            case_id = self.add_case(params.name, content, params.autosave)
        return {"case_id": case_id, "name": params.name}

    async def _open_case(self, params: Any) -> dict[str, Any]:
        case = self.cases[params.case_id]
        return {"case_id": case.case_id, "name": case.name,
                "content": encode_content(case.content)}

    async def _list_cases(self, params: Any) -> dict[str, Any]:
        return {"cases": [{"case_id": c.case_id, "name": c.name, "autosave": c.autosave}
                          for c in self.cases.values()]}

    async def _submit_job(self, params: Any) -> dict[str, Any]:
        job_id = f"job-{next(self._ids)}"
        source = self.work / f"{job_id}-in.mpcase"
        source.write_bytes(decode_content(params.content))
        self._spawn(self._run_job(job_id, params.procedure, source))
        return {"job_id": job_id}

    async def _run_job(self, job_id: str, procedure: str, source: Path) -> None:
        """The job agent on the case; its progress becomes ``job`` lines."""
        await self.send(JobEvent(job_id=job_id, state="queued", progress=0.0))
        output = self.work / f"{job_id}-out.mpcase"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "modelport.agent", "run", "--app", str(self.app_dir),
            "--procedure", procedure, "--input", str(source), "--output", str(output),
            stdout=asyncio.subprocess.PIPE, env=agent_env())
        assert proc.stdout is not None
        final: Any = None
        async for line in proc.stdout:
            event = parse_line(line)
            if isinstance(event, ProgressEvent):
                await self.send(JobEvent(job_id=job_id, state="running",
                                         progress=event.fraction, message=event.message,
                                         incumbent=event.incumbent))
            elif isinstance(event, ResultEvent | ErrorEvent):
                final = event
        await proc.wait()
        if isinstance(final, ResultEvent):
            await self.send(JobEvent(job_id=job_id, state="succeeded", progress=1.0,
                                     message="done"))
        else:
            message = final.message if isinstance(final, ErrorEvent) else "no final line"
            await self.send(JobEvent(job_id=job_id, state="failed", message=message))

    async def _fetch_result(self, params: Any) -> dict[str, Any]:
        path = self.work / f"{params.job_id}-out.mpcase"
        if not path.exists():
            raise KeyError(params.job_id)
        return {"content": encode_content(path.read_bytes())}

    async def _cancel_job(self, params: Any) -> dict[str, Any]:
        return {"state": "cancelled"}
