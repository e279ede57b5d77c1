"""The transport example solved by the app kit in this process: the known optimum."""

from __future__ import annotations

import json

import pytest

from modelport.appkit import LoadedApp, Progress, run


def test_transport_total_cost_is_153_675(transport: LoadedApp) -> None:
    results = run(transport.app, "solve")
    assert results["status"] == "Optimal"
    assert results["total_cost"] == pytest.approx(153.675, abs=1e-6)


def test_transport_shipments_meet_demand_within_capacity(transport: LoadedApp) -> None:
    data = transport.app.default_data()
    ship = run(transport.app, "solve")["shipment"]
    for market, need in data["demand"].items():
        assert sum(v for (_, m), v in ship.items() if m == market) >= need - 1e-6
    for plant, cap in data["capacity"].items():
        assert sum(v for (p, _), v in ship.items() if p == plant) <= cap + 1e-6


def test_transport_with_changed_data(transport: LoadedApp) -> None:
    """Data given to run() replaces the defaults identifier by identifier."""
    cheaper = run(transport.app, "solve", {"freight": 45})
    assert cheaper["total_cost"] == pytest.approx(153.675 / 2, abs=1e-6)


def test_transport_reports_progress_in_order(transport: LoadedApp) -> None:
    reports: list[Progress] = []
    run(transport.app, "solve", on_progress=reports.append)
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[-1].incumbent == pytest.approx(153.675, abs=1e-6)


def test_transport_manifest_and_description(transport: LoadedApp) -> None:
    manifest = transport.manifest
    assert (manifest.name, manifest.version, manifest.runtime, manifest.entry) == (
        "transport", "1.0.0", ">=1.0", "app:app",
    )
    described = json.loads(json.dumps(transport.app.describe()))
    assert described["version"] == "1.0.0"
    names = [i["name"] for i in described["identifiers"]]
    assert names[:2] == ["plants", "markets"]
    assert {p["name"]: p["kind"] for p in described["procedures"]} == {"solve": "solve"}
    widgets = [w for page in described["pages"] for w in page["widgets"]]
    assert {"widget": "button", "procedure": "solve", "label": "Solve"} in widgets
    shipment_table = next(w for w in widgets
                          if w["widget"] == "table" and w.get("identifier") == "shipment")
    assert shipment_table["editable"] is False and shipment_table["columns"] == "markets"
    distance_table = next(w for w in widgets if w.get("identifier") == "distance")
    assert distance_table["editable"] is True and distance_table["columns"] == "plants"


def test_data_and_results_round_trip_through_json(transport: LoadedApp) -> None:
    from modelport.appkit import to_jsonable
    from modelport.appkit.runner import check_outputs

    app = transport.app
    data = app.default_data()
    results = run(app, "solve", data)
    assert app.validate(json.loads(json.dumps(to_jsonable(data)))) == data
    back = json.loads(json.dumps(to_jsonable(results)))
    assert check_outputs(app, app.get_procedure("solve"), back, data) == results
