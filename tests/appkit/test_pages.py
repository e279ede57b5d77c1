"""Page declarations: a table's ``columns`` (the set spread over the grid's columns)."""

from __future__ import annotations

import pytest

from modelport.appkit import App, DeclarationError, table


def two_d_app() -> App:
    app = App(name="grid")
    rows = app.set("rows")
    cols = app.set("cols")
    app.parameter("cell", [rows, cols])
    app.parameter("single", rows)
    return app


def test_a_table_over_two_sets_spreads_the_last_set_unless_told() -> None:
    app = two_d_app()
    app.page("p", "P", [table("cell"), table("cell", "by rows", columns="rows"),
                        table("single")])
    widgets = app.describe()["pages"][0]["widgets"]
    assert [w["columns"] for w in widgets] == ["cols", "rows", None]


@pytest.mark.parametrize(("identifier", "columns", "words"), [
    ("cell", "other", "is not in the domain of cell"),
    ("single", "rows", "single is not over two or more sets"),
])
def test_columns_outside_the_domain_are_refused(identifier: str, columns: str,
                                                words: str) -> None:
    app = two_d_app()
    app.set("other")
    app.page("p", "P", [table(identifier, columns=columns)])
    problems = app.check()
    assert problems and words in problems[0]
    with pytest.raises(DeclarationError):
        app.describe()
