"""Command line of the agent: parse arguments, wire signals and stdout, run one job.
(``session`` runs a data session instead: see modelport.agent.session.main.)

``run`` takes the job as arguments. ``serve`` is the same run for a process started before
its job is known (a warm container's main process): it imports the heavy modules first, then
reads ONE request from stdin, a JSON object with the ``run`` arguments (``app``,
``procedure``, ``output``, optional ``input`` and ``options``) and optional ``env`` (extra
environment, e.g. the runtime digest), runs it exactly as ``run`` would, and exits. With
``files`` (serve protocol 2, :mod:`modelport.agent.transfer`) the request line is followed by
a tar of the inputs, extracted into the working folder first, and the ``result`` line by the
result case's bytes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from modelport.agent.capture import StdoutCapture, protocol_stream
from modelport.agent.emitter import Emitter
from modelport.agent.job import JobSpec, StopFlag, execute
from modelport.agent.protocol import EXIT_INVALID, EXIT_OK, ErrorEvent, ResultEvent
from modelport.agent.transfer import BadTransfer, Frame, receive_files, send_file


def parser() -> argparse.ArgumentParser:
    """``run --app DIR --procedure NAME [--input CASE] --output CASE [--options JSON]
    [--start CHECKPOINT]``."""
    top = argparse.ArgumentParser(prog="python -m modelport.agent",
                                  description="Run a procedure of an app (see docs/agent.md).")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one procedure and write the result case")
    run.add_argument("--app", required=True, type=Path, help="the extracted app folder")
    run.add_argument("--procedure", required=True, help="the procedure's name")
    run.add_argument("--input", type=Path, help="input case (default: the app's default data)")
    run.add_argument("--output", required=True, type=Path, help="where to write the result")
    run.add_argument("--options", type=_options, default={},
                     help="a JSON object recorded in the result's lineage")
    run.add_argument("--start", type=Path, help="a checkpoint (JSON) to resume from: the "
                     "procedure gets it as ctx.start_solution")
    commands.add_parser("serve", help="preload, read one run request (JSON) on stdin, run it")
    commands.add_parser("session", help="preload, then run a data session driven over "
                                        "stdin/stdout (docs/agent.md §4)")
    return top


def _options(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


PRELOAD = ("modelport.appkit", "modelport.case", "numpy", "pyarrow", "highspy")
SESSION_PRELOAD = (*PRELOAD, "aiohttp.web", "modelport.agent.session.main")
REQUEST_KEYS = ("app", "procedure", "input", "output", "options", "start")
MAX_REQUEST_BYTES = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (argparse exits with 2 on bad arguments)."""
    args = parser().parse_args(argv)
    if args.command == "serve":
        return serve(sys.stdin.buffer)
    if args.command == "session":
        preload(SESSION_PRELOAD)
        from modelport.agent.session.main import main as session_main

        return session_main()
    return _run(args)


def preload(names: Sequence[str] = PRELOAD) -> None:
    """Import the heavy modules now, so the request that follows starts at once."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # not in every runtime: the run imports what it needs
            pass


def serve(stdin: IO[bytes]) -> int:
    """Preload, then run the one request read from ``stdin`` (see the module docstring).
    A request that is not valid JSON or not a run's arguments exits with 2, as ``run``
    does on bad arguments (message on stderr, no protocol line). Refused ``files`` (oversize,
    truncated, wrong checksum, not a safe tar) end with an ``error`` line, reason
    ``bad_transfer``, exit 2."""
    preload()
    try:
        argv, env, files = request_argv(stdin.readline(MAX_REQUEST_BYTES))
    except ValueError as exc:
        print(f"serve: bad request: {exc}", file=sys.stderr)
        return EXIT_INVALID
    os.environ.update(env)
    return _run(parser().parse_args(argv), stdin if files else None, files)


def request_argv(line: bytes) -> tuple[list[str], dict[str, str], Frame | None]:
    """The ``run`` arguments, the extra environment and the inputs' frame (``files``, or
    None) of one request line; ValueError when it is not a JSON object of known keys."""
    request = json.loads(line) if line.strip() else None
    if not isinstance(request, dict):
        raise ValueError("expected one JSON object on a line")
    env = request.pop("env", {})
    files = Frame.of(request.pop("files")) if "files" in request else None
    unknown = set(request) - set(REQUEST_KEYS)
    if unknown or not isinstance(env, dict):
        raise ValueError(f"unknown keys {sorted(unknown)}" if unknown else "env: not an object")
    argv = ["run"]
    for key in REQUEST_KEYS:
        if request.get(key) is not None:
            value = request[key]
            argv += [f"--{key}", json.dumps(value) if key == "options" else str(value)]
    return argv, {str(k): str(v) for k, v in env.items()}, files


def _run(args: argparse.Namespace, stdin: IO[bytes] | None = None,
         files: Frame | None = None) -> int:
    spec = JobSpec(app_dir=args.app, procedure=args.procedure, output=args.output,
                   input=args.input, options=args.options, start=args.start)
    stop = StopFlag()
    signal.signal(signal.SIGUSR1, lambda *_: stop.request())
    with protocol_stream() as stream:
        emitter = Emitter(stream)
        final: ResultEvent | ErrorEvent | None = _received(stdin, files)
        if final is None:
            with StdoutCapture(lambda line: emitter.log(line, source="stdout")):
                final = execute(spec, emitter, stop)
        emitter.emit(final)
        if files is not None and isinstance(final, ResultEvent):
            send_file(Path(final.path), stream)
    return _exit_code(final)


def _received(stdin: IO[bytes] | None, files: Frame | None) -> ErrorEvent | None:
    """Extract the inputs that follow the request into the working folder; the error to end
    the run with when they are refused."""
    if stdin is None or files is None:
        return None
    try:
        receive_files(stdin, files, Path.cwd())
    except BadTransfer as exc:
        return ErrorEvent(reason="bad_transfer", message=f"the inputs were refused: {exc}")
    return None


def _exit_code(final: ResultEvent | ErrorEvent) -> int:
    return final.exit_code if isinstance(final, ErrorEvent) else EXIT_OK
