"""Command line of the agent: parse arguments, wire signals and stdout, run one job."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelport.agent.capture import StdoutCapture, protocol_stream
from modelport.agent.emitter import Emitter
from modelport.agent.job import JobSpec, StopFlag, execute
from modelport.agent.protocol import EXIT_OK, ErrorEvent, ResultEvent


def parser() -> argparse.ArgumentParser:
    """``run --app DIR --procedure NAME [--input CASE] --output CASE [--options JSON]``."""
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
    return top


def _options(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (argparse exits with 2 on bad arguments)."""
    args = parser().parse_args(argv)
    spec = JobSpec(app_dir=args.app, procedure=args.procedure, output=args.output,
                   input=args.input, options=args.options)
    stop = StopFlag()
    signal.signal(signal.SIGUSR1, lambda *_: stop.request())
    with protocol_stream() as stream:
        emitter = Emitter(stream)
        with StdoutCapture(lambda line: emitter.log(line, source="stdout")):
            final = execute(spec, emitter, stop)
        emitter.emit(final)
    return _exit_code(final)


def _exit_code(final: ResultEvent | ErrorEvent) -> int:
    return final.exit_code if isinstance(final, ErrorEvent) else EXIT_OK
