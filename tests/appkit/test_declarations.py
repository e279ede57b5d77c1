"""Declaring an app: names, domains, defaults, procedures and pages are checked."""

from __future__ import annotations

import pytest

from modelport.appkit import App, DeclarationError, button, chart, scalar, table, text


def test_bad_names_are_refused() -> None:
    app = App(name="x")
    for name in ["", "1st", "has space", "a-b", "value", "x" * 64]:
        with pytest.raises(DeclarationError):
            app.set(name)


def test_domain_must_be_declared_sets() -> None:
    app = App(name="x")
    app.parameter("scalar_one")
    with pytest.raises(DeclarationError, match="'nowhere' is not a declared set"):
        app.parameter("p", "nowhere")
    with pytest.raises(DeclarationError, match="'scalar_one' is not a declared set"):
        app.parameter("q", "scalar_one")


def test_duplicates_are_refused() -> None:
    app = App(name="x")
    app.set("items")
    with pytest.raises(DeclarationError, match="declared twice"):
        app.parameter("items")

    @app.procedure(kind="session")
    def go(ctx: object) -> None:
        return None

    with pytest.raises(DeclarationError, match="declared twice"):
        app.procedure(kind="solve", name="go")(lambda ctx: None)


def test_types_bounds_and_defaults_are_checked() -> None:
    app = App(name="x")
    with pytest.raises(DeclarationError, match="type 'float' is not one of"):
        app.parameter("a", type="float")
    with pytest.raises(DeclarationError, match="lower bound 5 exceeds upper 1"):
        app.parameter("b", lower=5, upper=1)
    with pytest.raises(DeclarationError, match="cannot have bounds"):
        app.parameter("c", type="string", lower=0)
    with pytest.raises(DeclarationError, match="default -1 is below the lower bound 0"):
        app.parameter("d", lower=0, default=-1)
    with pytest.raises(DeclarationError, match="procedure kind 'batch'"):
        app.procedure(kind="batch")  # type: ignore[arg-type]


def test_pages_are_checked_against_declarations() -> None:
    app = App(name="x")
    items = app.set("items")
    weight = app.parameter("weight", items)
    total = app.result("total")
    app.page("main", "Main", [
        text("hello"),
        table(weight),
        scalar(weight),
        scalar("missing"),
        chart(total),
        chart(weight, x="other"),
        button("nothing"),
    ])
    assert app.check() == [
        "page main: scalar input needs a scalar parameter, weight is not one",
        "page main: scalar shows unknown identifier 'missing'",
        "page main: chart needs an indexed parameter or result, total is not one",
        "page main: chart x axis 'other' is not in the domain of weight",
        "page main: button runs unknown procedure 'nothing'",
    ]
    with pytest.raises(DeclarationError):
        app.describe()


def test_default_data_is_validated_when_given() -> None:
    app = App(name="x")
    items = app.set("items")
    app.parameter("weight", items, lower=0)
    with pytest.raises(Exception, match=r"weight\['a'\]: -1 is below the lower bound 0"):
        app.defaults({"items": ["a"], "weight": {"a": -1}})
    app.defaults({"items": ["a"], "weight": {"a": 1}})
    first = app.default_data()
    first["items"].append("b")
    assert app.default_data() == {"items": ["a"], "weight": {"a": 1.0}}
