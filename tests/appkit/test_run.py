"""Running procedures: the context, progress order, stop checks and output validation."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.appkit import (
    App,
    AppKitError,
    Context,
    DataError,
    Progress,
    UnknownProcedure,
    run,
)


def make_app() -> App:
    app = App(name="demo")
    items = app.set("items")
    app.parameter("weight", items, lower=0, default=1.0)
    app.parameter("factor", default=2.0)
    app.result("total")
    app.result("scaled", items, lower=0)
    app.defaults({"items": ["a", "b", "c"], "weight": {"a": 5}})
    return app


def test_dense_fills_defaults_and_results_are_validated() -> None:
    app = make_app()

    @app.procedure(kind="solve")
    def solve(ctx: Context) -> dict[str, Any]:
        dense = ctx.dense("weight")
        ctx.results["scaled"] = {k: v * ctx["factor"] for k, v in dense.items()}
        return {"total": sum(dense.values())}

    assert run(app, "solve") == {
        "scaled": {"a": 10.0, "b": 2.0, "c": 2.0},
        "total": 7.0,
    }


def test_progress_is_clamped_and_never_goes_back() -> None:
    app = make_app()

    @app.procedure(kind="solve")
    def solve(ctx: Context) -> None:
        for fraction in [0.2, 0.1, 0.5, 3.0, -1.0]:
            ctx.progress(fraction, "step", incumbent=float("inf"), bound=1.5)

    reports: list[Progress] = []
    run(app, "solve", on_progress=reports.append)
    assert [r.fraction for r in reports] == [0.2, 0.2, 0.5, 1.0, 1.0]
    assert reports[0].incumbent is None and reports[0].bound == 1.5
    assert reports[0].to_dict()["message"] == "step"


def test_progress_rejects_nan() -> None:
    app = make_app()

    @app.procedure(kind="solve")
    def solve(ctx: Context) -> None:
        ctx.progress(float("nan"))

    with pytest.raises(ValueError, match="must be a number"):
        run(app, "solve")


def test_should_stop_latches() -> None:
    app = make_app()
    answers = iter([False, True, False])
    seen: list[bool] = []

    @app.procedure(kind="solve")
    def solve(ctx: Context) -> None:
        seen.extend(ctx.should_stop() for _ in range(4))
        seen.append(ctx.interrupted)

    run(app, "solve", should_stop=lambda: next(answers))
    assert seen == [False, True, True, True, True]


def test_solve_may_not_set_parameters_but_session_may() -> None:
    app = make_app()

    @app.procedure(kind="solve")
    def sneaky(ctx: Context) -> dict[str, Any]:
        return {"factor": 3.0}

    @app.procedure(kind="session")
    def grow(ctx: Context) -> dict[str, Any]:
        return {"items": [*ctx["items"], "d"], "weight": {"d": 4}}

    with pytest.raises(DataError, match="factor: a parameter cannot be given here"):
        run(app, "sneaky")
    assert run(app, "grow") == {"items": ["a", "b", "c", "d"], "weight": {"d": 4.0}}


def test_bad_results_name_identifier_and_element() -> None:
    app = make_app()

    @app.procedure(kind="solve")
    def solve(ctx: Context) -> dict[str, Any]:
        return {"scaled": {"a": -1, "zzz": 1}}

    with pytest.raises(DataError) as caught:
        run(app, "solve")
    assert [str(i) for i in caught.value.issues] == [
        "scaled['a']: -1 is below the lower bound 0",
        "scaled['zzz']: 'zzz' is not an element of set items",
    ]


def test_bad_inputs_fail_before_the_procedure_runs() -> None:
    app = make_app()
    calls: list[str] = []
    app.procedure(kind="solve", name="solve")(lambda ctx: calls.append("ran"))
    with pytest.raises(DataError, match=r"weight\['b'\]: -2 is below"):
        run(app, "solve", {"weight": {"b": -2}})
    assert calls == []


def test_unknown_procedure_and_bad_return() -> None:
    app = make_app()
    app.procedure(kind="solve", name="odd")(lambda ctx: 42)
    with pytest.raises(UnknownProcedure, match="has no procedure 'nope' \\(has: odd\\)"):
        run(app, "nope")
    with pytest.raises(AppKitError) as caught:
        run(app, "odd")
    assert caught.value.code == "bad_return"


def test_log_goes_to_the_sink() -> None:
    app = make_app()
    app.procedure(kind="solve", name="talk")(lambda ctx: ctx.log("hello"))
    lines: list[str] = []
    run(app, "talk", on_log=lines.append)
    assert lines == ["hello"]
