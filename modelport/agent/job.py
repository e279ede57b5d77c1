"""One run of a procedure: load the app, read the input, run, write the result case.

``execute`` emits ``started``, ``progress`` and ``log`` events as it goes and returns the
final event (``result`` or ``error``) for the caller to emit once the app's captured stdout
has been drained, so the final event is always the last line.
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.agent.emitter import Emitter, ProgressThrottle
from modelport.agent.lineage import Lineage, file_sha256, runtime_version, utc_now
from modelport.agent.protocol import (
    CheckpointEvent,
    ErrorEvent,
    ErrorReason,
    Issue,
    ResultEvent,
    StartedEvent,
)
from modelport.appkit import (
    AppKitError,
    DataError,
    LoadedApp,
    UnknownProcedure,
    load_app,
    load_case,
    run,
    save_case,
)
from modelport.appkit.runner import prepare_inputs
from modelport.case import CaseError


@dataclass(frozen=True)
class JobSpec:
    """What to run: the app folder, the procedure, the input case (None: the app's
    defaults), where to write the result case, and options recorded in its lineage."""

    app_dir: Path
    procedure: str
    output: Path
    input: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    start: Path | None = None  # a checkpoint of an earlier run to resume from (JSON)


class JobFailed(Exception):
    """A run that ends with an ``error`` event."""

    def __init__(self, reason: ErrorReason, message: str, *, with_traceback: bool = False,
                 issues: list[Issue] | None = None) -> None:
        super().__init__(message)
        self.event = ErrorEvent(
            reason=reason, message=message, issues=issues or [],
            traceback=traceback.format_exc() if with_traceback else None,
        )


class StopFlag:
    """The procedure's ``should_stop``: set by ``request()`` (SIGUSR1); ``seen`` tells
    whether the procedure asked after it was set, i.e. whether the run was interrupted."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.seen = False

    def request(self) -> None:
        """Ask the procedure to stop and keep its best solution (signal-handler safe)."""
        self._event.set()

    def __call__(self) -> bool:
        if self._event.is_set():
            self.seen = True
        return self.seen


def execute(spec: JobSpec, emitter: Emitter, stop: StopFlag) -> ResultEvent | ErrorEvent:
    """Run ``spec``; returns the final event. Never raises for expected failures; an
    unexpected one becomes an ``internal`` error event."""
    try:
        return _execute(spec, emitter, stop)
    except JobFailed as failure:
        return failure.event
    except Exception as exc:
        return JobFailed("internal", f"agent failure: {exc!r}", with_traceback=True).event


def _execute(spec: JobSpec, emitter: Emitter, stop: StopFlag) -> ResultEvent:
    loaded = _load(spec.app_dir, spec.procedure)
    emitter.emit(StartedEvent(
        app=loaded.manifest.name, app_version=loaded.manifest.version,
        procedure=spec.procedure, runtime_version=runtime_version(), pid=os.getpid(),
        time=utc_now(),
    ))
    inputs, input_sha = _read_inputs(loaded, spec.input)
    start = _read_start(spec.start, emitter)
    started_at = utc_now()
    results = _run(loaded, spec.procedure, inputs, emitter, stop, start)
    lineage = Lineage(loaded, spec.procedure, spec.options, input_sha, started_at, utc_now(),
                      stop.seen)
    return _write_result(loaded, spec.output, {**inputs, **results}, lineage)


def _load(app_dir: Path, procedure: str) -> LoadedApp:
    try:
        loaded = load_app(app_dir)
    except AppKitError as exc:
        raise JobFailed("bad_app", exc.message) from None
    except Exception as exc:
        raise JobFailed("bad_app", f"importing the app failed: {exc!r}",
                        with_traceback=True) from None
    try:
        loaded.app.get_procedure(procedure)
    except UnknownProcedure as exc:
        raise JobFailed("unknown_procedure", exc.message) from None
    return loaded


def _read_inputs(loaded: LoadedApp, path: Path | None) -> tuple[dict[str, Any], str | None]:
    """The validated inputs (the case's over the app's defaults) and the case's sha256."""
    try:
        data = load_case(loaded.app, path) if path is not None else None
        digest = file_sha256(path) if path is not None else None
        return prepare_inputs(loaded.app, data), digest
    except DataError as exc:
        issues = [Issue(identifier=i.identifier, element=list(i.element), message=str(i),
                        rule=i.rule) for i in exc.issues]
        raise JobFailed("invalid_data", exc.message, issues=issues) from None
    except CaseError as exc:
        raise JobFailed("invalid_data", f"input case: {exc}") from None
    except OSError as exc:
        raise JobFailed("invalid_data", f"input case: {exc}") from None


def _read_start(path: Path | None, emitter: Emitter) -> dict[str, Any] | None:
    """The checkpoint to resume from; None without one or when it cannot be read (the run
    then starts from scratch, and says so)."""
    if path is None:
        return None
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        emitter.log(f"the checkpoint could not be read ({exc}); starting from scratch",
                    source="agent")
        return None
    if not isinstance(values, dict):
        emitter.log("the checkpoint is not a JSON object; starting from scratch",
                    source="agent")
        return None
    emitter.log(f"starting from the checkpoint of an earlier attempt ({len(values)} values)",
                source="agent")
    return values


def _run(loaded: LoadedApp, procedure: str, inputs: dict[str, Any], emitter: Emitter,
         stop: StopFlag, start: dict[str, Any] | None = None) -> dict[str, Any]:
    throttle = ProgressThrottle(emitter.emit)

    def checkpoint(values: dict[str, Any]) -> None:
        emitter.emit(CheckpointEvent(values=values))

    try:
        return run(loaded.app, procedure, inputs, on_progress=throttle.report,
                   should_stop=stop, on_log=emitter.log, on_checkpoint=checkpoint,
                   start_solution=start)
    except Exception as exc:
        failure = JobFailed("app_exception", _describe(exc), with_traceback=True)
        emitter.log(failure.event.traceback or "", source="agent")
        raise failure from None
    finally:
        throttle.flush()


def _describe(exc: Exception) -> str:
    if isinstance(exc, DataError):
        return f"the procedure's results are invalid: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _write_result(loaded: LoadedApp, output: Path, data: dict[str, Any],
                  lineage: Lineage) -> ResultEvent:
    """Write the case next to ``output`` and move it into place, so a reader never sees a
    partial file."""
    partial = output.with_name(output.name + ".partial")
    try:
        written = save_case(loaded.app, partial, data, metadata=lineage.to_metadata())
        os.replace(partial, output)
    except (OSError, CaseError, DataError) as exc:
        partial.unlink(missing_ok=True)
        raise JobFailed("internal", f"writing the result case failed: {exc}",
                        with_traceback=True) from None
    return ResultEvent(path=str(output), sha256=written.sha256, size=written.size,
                       interrupted=lineage.interrupted)
