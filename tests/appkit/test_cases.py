"""Cases of an app: saved with its declarations, loaded back checked against them."""

from __future__ import annotations

import io
from typing import Any

import pytest

from modelport.appkit import App, DataError, LoadedApp, load_case, run, save_case
from modelport.case import CaseError, read_case, write_case


def test_transport_case_round_trip_with_results(transport: LoadedApp) -> None:
    app = transport.app
    data = app.default_data()
    results = run(app, "solve", data)
    out = io.BytesIO()
    save_case(app, out, {**data, **results}, metadata={"procedure": "solve"})
    case = read_case(out.getvalue())
    assert (case.app_name, case.app_version) == ("transport", "1.0.0")
    assert case.info("distance").unit == "thousand miles"
    assert case.values("total_cost") == pytest.approx(153.675, abs=1e-6)
    assert load_case(app, out.getvalue()) == {**data, **results}


def test_a_case_of_another_app_is_refused(transport: LoadedApp, sleeper: LoadedApp) -> None:
    out = io.BytesIO()
    save_case(sleeper.app, out, {"seconds": 1.0})
    with pytest.raises(CaseError, match="case of app 'sleeper', not of 'transport'") as caught:
        load_case(transport.app, out.getvalue())
    assert caught.value.code == "wrong_app"


def other_case(name: str, data: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    write_case(out, name, "1", data)
    return out.getvalue()


def test_identifiers_are_checked_against_the_declarations(transport: LoadedApp) -> None:
    with pytest.raises(CaseError) as caught:
        load_case(transport.app, other_case("transport", {"bogus": 1.0}))
    assert caught.value.code == "unknown_identifier"
    with pytest.raises(CaseError, match="capacity: case has parameter over \\['dim1'\\]") as c2:
        load_case(transport.app, other_case("transport", {"capacity": {"seattle": 1.0}}))
    assert c2.value.code == "schema_mismatch"


def test_values_are_validated_on_load() -> None:
    app = App(name="demo")
    items = app.set("items")
    app.parameter("weight", items, lower=0)
    out = io.BytesIO()
    from modelport.appkit import case_identifiers

    write_case(out, "demo", "1", {"items": ["a"], "weight": {"a": -1.0, }},
               identifiers=case_identifiers(app))
    with pytest.raises(DataError, match=r"weight\['a'\]: -1 is below the lower bound 0"):
        load_case(app, out.getvalue())


def test_save_validates_first(transport: LoadedApp) -> None:
    out = io.BytesIO()
    with pytest.raises(DataError, match=r"capacity\['seattle'\]: -5 is below"):
        save_case(transport.app, out, {"plants": ["seattle"], "capacity": {"seattle": -5}})
    assert out.getvalue() == b""
