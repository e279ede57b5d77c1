"""Running a procedure of an app in this process, outside any container."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelport.appkit.app import INPUT_KINDS, App
from modelport.appkit.context import CheckpointSink, Context, LogSink, ProgressSink, StopCheck
from modelport.appkit.declarations import ProcedureDecl
from modelport.appkit.errors import AppKitError
from modelport.appkit.validation import validate

OUTPUT_KINDS = {
    "solve": frozenset({"result"}),
    "session": frozenset({"set", "parameter", "result"}),
}


def prepare_inputs(app: App, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The app's default data overlaid, identifier by identifier, with ``data``'s inputs.

    Results in ``data`` are ignored (a case may carry them). Raises DataError.
    """
    merged: dict[str, Any] = app.default_data()
    for name, value in (data or {}).items():
        decl = app.identifiers.get(name)
        if decl is None or decl.kind in INPUT_KINDS:
            merged[name] = value
    return app.validate(merged)


def check_outputs(
    app: App, procedure: ProcedureDecl, outputs: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate what a procedure produced: a solve may set results only; a session procedure
    may also change sets and parameters. Raises DataError naming identifier and element."""
    sets = {d.name: inputs.get(d.name, []) for d in app.of_kind("set")}
    kinds = OUTPUT_KINDS[procedure.kind]
    return validate(app.identifiers, outputs, kinds=kinds, sets=sets, partial=True)


def run(
    app: App,
    procedure: str,
    data: Mapping[str, Any] | None = None,
    *,
    on_progress: ProgressSink | None = None,
    should_stop: StopCheck | None = None,
    on_log: LogSink | None = None,
    on_checkpoint: CheckpointSink | None = None,
    start_solution: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``procedure`` of ``app`` on ``data`` (over the app's defaults) and return its output.

    ``on_progress`` receives every Progress report (in increasing order); ``should_stop`` is
    polled through ``ctx.should_stop()`` (e.g. a deadline or an interrupt flag); ``on_log``
    receives log lines; ``on_checkpoint`` every ``ctx.checkpoint(values)``; ``start_solution``
    is what ``ctx.start_solution`` gives (a checkpoint of an earlier run). Returns the
    normalised results (for a session procedure: every identifier it set). Raises
    UnknownProcedure, DataError (bad inputs or outputs), AppKitError
    (a return value that is not a mapping) and whatever the procedure itself raises.
    """
    decl = app.get_procedure(procedure)
    inputs = prepare_inputs(app, data)
    ctx = Context(
        procedure, inputs, app.identifiers,
        on_progress=on_progress, should_stop=should_stop, on_log=on_log,
        on_checkpoint=on_checkpoint, start_solution=start_solution,
    )
    returned = decl.func(ctx)
    if returned is not None and not isinstance(returned, Mapping):
        raise AppKitError(
            f"procedure {procedure} returned {type(returned).__name__}, "
            "expected a mapping of identifiers to values or None",
            code="bad_return",
        )
    return check_outputs(app, decl, {**ctx.results, **(returned or {})}, inputs)
