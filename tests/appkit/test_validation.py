"""Validation of data against declarations: every problem, each naming identifier and element."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.appkit import App, DataError


@pytest.fixture
def app() -> App:
    app = App(name="shop")
    plants = app.set("plants")
    markets = app.set("markets")
    app.parameter("demand", markets, lower=0, required=True)
    app.parameter("distance", [plants, markets], lower=0, upper=10)
    app.parameter("trucks", plants, type="integer", default=1)
    app.parameter("is_hub", plants, type="binary")
    app.parameter("label", markets, type="string")
    app.parameter("freight", required=True)
    app.result("cost")
    return app


BASE: dict[str, Any] = {
    "plants": ["seattle", "san-diego"],
    "markets": ["new-york", "chicago"],
    "demand": {"new-york": 325, "chicago": 300},
    "freight": 90,
}


def problems(app: App, **changes: Any) -> list[str]:
    with pytest.raises(DataError) as caught:
        app.validate({**BASE, **changes})
    assert caught.value.code == "invalid_data"
    return [str(issue) for issue in caught.value.issues]


def test_valid_data_is_normalised(app: App) -> None:
    data = app.validate({
        **BASE,
        "distance": {"seattle": {"new-york": 2.5}, ("san-diego", "chicago"): 1},
        "trucks": {"seattle": 3.0},
        "is_hub": {"seattle": True, "san-diego": 0},
        "label": [["new-york", "NY"]],
    })
    assert data["distance"] == {("seattle", "new-york"): 2.5, ("san-diego", "chicago"): 1.0}
    assert data["trucks"] == {"seattle": 3} and isinstance(data["trucks"]["seattle"], int)
    assert data["is_hub"] == {"seattle": 1, "san-diego": 0}
    assert data["label"] == {"new-york": "NY"}
    assert data["freight"] == 90.0


def test_below_lower_bound_names_identifier_and_element(app: App) -> None:
    found = problems(app, demand={"new-york": -3, "chicago": 1})
    assert found == ["demand['new-york']: -3 is below the lower bound 0"]


def test_above_upper_bound_in_two_dimensions(app: App) -> None:
    found = problems(app, distance={("seattle", "chicago"): 12.5})
    assert found == ["distance['seattle','chicago']: 12.5 is above the upper bound 10"]


def test_unknown_element(app: App) -> None:
    found = problems(app, demand={"new-york": 1, "chicago": 1, "boston": 5})
    assert found == ["demand['boston']: 'boston' is not an element of set markets"]


def test_wrong_types(app: App) -> None:
    found = problems(
        app,
        freight="ninety",
        trucks={"seattle": 2.5},
        is_hub={"seattle": 2},
        label={"chicago": 7},
    )
    assert found == [
        "trucks['seattle']: 2.5 is not an integer",
        "is_hub['seattle']: 2 is not binary (0 or 1)",
        "label['chicago']: 7 is not a string",
        "freight: 'ninety' is not a real number",
    ]


def test_missing_required_values(app: App) -> None:
    data = {k: v for k, v in BASE.items() if k != "freight"}
    data["demand"] = {"new-york": 325}
    with pytest.raises(DataError) as caught:
        app.validate(data)
    assert [str(i) for i in caught.value.issues] == [
        "demand['chicago']: missing required value",
        "freight: missing required value",
    ]


def test_all_problems_are_collected(app: App) -> None:
    found = problems(
        app,
        markets=["new-york", "chicago", "new-york", 7],
        demand={"new-york": -1, "boston": 2},
        bogus=1,
        cost=5,
    )
    assert "bogus: not a declared identifier" in found
    assert "cost: a result cannot be given here" in found
    assert "markets['new-york']: duplicate element" in found
    assert "markets: element #4 (7) is not a name" in found
    assert "demand['new-york']: -1 is below the lower bound 0" in found
    assert "demand['boston']: 'boston' is not an element of set markets" in found
    assert "demand['chicago']: missing required value" in found
    assert len(found) == 7


def test_bad_shapes(app: App) -> None:
    found = problems(
        app,
        distance={"seattle": 3},
        trucks=[["seattle"]],
        label="nope",
        plants="seattle",
    )
    assert "plants: expected a list of element names, got str" in found
    assert "distance['seattle']: expected 2 index element(s), got 1" in found
    assert "trucks: row #1 is not 1 element(s) and a value" in found
    assert "label: expected a mapping of elements to values, got 'nope'" in found


def test_nan_and_infinity_are_refused(app: App) -> None:
    found = problems(app, freight=float("nan"), demand={"new-york": float("inf"), "chicago": 1})
    assert found == [
        "demand['new-york']: inf is not a finite number",
        "freight: nan is not a finite number",
    ]


def test_issue_count_is_capped_per_identifier() -> None:
    app = App(name="big")
    items = app.set("items")
    app.parameter("weight", items, lower=0)
    names = [f"i{n}" for n in range(80)]
    with pytest.raises(DataError) as caught:
        app.validate({"items": names, "weight": dict.fromkeys(names, -1)})
    issues = caught.value.issues
    assert len(issues) == 51
    assert str(issues[-1]) == "weight: 30 more problem(s) not listed"


def test_error_is_json_ready(app: App) -> None:
    with pytest.raises(DataError) as caught:
        app.validate({**BASE, "demand": {"new-york": -3, "chicago": 1}})
    assert caught.value.to_dict()["issues"] == [{
        "identifier": "demand",
        "element": ["new-york"],
        "rule": "lower_bound",
        "message": "demand['new-york']: -3 is below the lower bound 0",
    }]
