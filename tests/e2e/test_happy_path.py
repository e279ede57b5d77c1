"""Jobs end to end on the real platform: REST API → backend scheduler → solve_svc → a real
runtime container → result case, log and events back through the API and AMQP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import highspy
import pytest

from modelport.appkit import load_app, save_case
from tests.e2e.platform import Platform, result_case
from tests.support.stack import EXAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def test_transport_via_the_api_succeeds_with_result_log_and_lineage(
    platform: Platform,
) -> None:
    p = platform
    job = await p.submit("transport", options={"note": "e2e"})
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"], done["attempt"]) == ("succeeded", None, 1)
    assert done["output_case_id"] and done["worker"] == "solve-a"
    status, data = await p.call("GET", f"/api/v1/jobs/{job['id']}/result")
    assert status == 200
    case = result_case(data)
    assert case.values("total_cost") == pytest.approx(153.675)
    lineage = case.metadata["lineage"]
    assert lineage["app"] == {"name": "transport", "version": "1.0.0"}
    assert lineage["procedure"] == "solve" and lineage["options"] == {"note": "e2e"}
    assert lineage["runtime"]["digest"] == p.runtime.image_id
    status, log = await p.call("GET", f"/api/v1/jobs/{job['id']}/log")
    assert status == 200 and b"Optimal" in log
    status, stored = await p.call("GET", f"/api/v1/cases/{done['output_case_id']}")
    assert status == 200 and stored["app"] == "transport"
    kinds = [e["type"].rsplit(".", 1)[1] for e in p.events_of(job["id"])
             if e["type"] != "modelport.job.progress"]
    assert kinds == ["queued", "started", "succeeded"]
    assert p.containers() == []


# Differs from examples/transport/data.json in every parameter (that data gives 153.675).
CHANGED = {
    "capacity": {"seattle": 420.0, "san-diego": 530.0},
    "demand": {"new-york": 300.0, "chicago": 360.0, "topeka": 240.0},
    "distance": {"seattle": {"new-york": 2.6, "chicago": 1.5, "topeka": 1.9},
                 "san-diego": {"new-york": 2.3, "chicago": 1.9, "topeka": 1.2}},
    "freight": 110.0,
}


def cheapest_shipping(data: dict[str, Any]) -> float:
    """The transport LP's optimum for ``data``, built here with HiGHS's low-level API (not by
    the app's code): min sum freight * distance / 1000 * ship, plant supply <= capacity,
    market receipt >= demand."""
    plants, markets = data["plants"], data["markets"]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    column = {(p, m): i for i, (p, m) in enumerate((p, m) for p in plants for m in markets)}
    for p, m in column:
        h.addCol(data["freight"] * data["distance"][p][m] / 1000, 0, inf, 0, [], [])
    for p in plants:
        h.addRow(-inf, data["capacity"][p], len(markets),
                 [column[p, m] for m in markets], [1.0] * len(markets))
    for m in markets:
        h.addRow(data["demand"][m], inf, len(plants),
                 [column[p, m] for p in plants], [1.0] * len(plants))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def test_the_model_here_gives_the_known_optimum_of_the_defaults() -> None:
    defaults = json.loads((EXAMPLES / "transport" / "data.json").read_text())
    assert cheapest_shipping(defaults) == pytest.approx(153.675)  # GAMS trnsport's optimum


async def test_uploaded_case_gives_its_own_optimum_and_lineage_names_it(
    platform: Platform,
) -> None:
    p = platform
    data = {**json.loads((EXAMPLES / "transport" / "data.json").read_text()), **CHANGED}
    expected = cheapest_shipping(data)
    assert expected != pytest.approx(153.675)  # the defaults' optimum: this case differs
    path = p.tmp / "changed.mpcase"
    save_case(load_app(EXAMPLES / "transport").app, path, data)
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    stored = await p.upload_case_file("transport", path)
    assert stored["sha256"] == sha256
    job = await p.submit("transport", input_case_id=stored["id"])
    done = await p.finished(job["id"])
    assert done["state"] == "succeeded", done
    status, body = await p.call("GET", f"/api/v1/jobs/{job['id']}/result")
    assert status == 200
    result = result_case(body)
    assert result.values("total_cost") == pytest.approx(expected, rel=1e-9)
    assert result.values("freight") == 110.0  # the inputs travel into the result
    assert result.metadata["lineage"]["input"]["sha256"] == sha256
    assert p.containers() == []


async def test_facility_location_progress_arrives_in_order_on_amqp(platform: Platform) -> None:
    p = platform
    case_id = await p.upload_case("facility-location", generate={
        "n_facilities": 15, "n_customers": 60, "seed": 3})
    job = await p.submit("facility-location", input_case_id=case_id)
    done = await p.finished(job["id"])
    assert done["state"] == "succeeded", done
    events = p.events_of(job["id"])
    progress = [e["data"]["fraction"] for e in events if e["type"] == "modelport.job.progress"]
    assert len(progress) >= 2, events
    assert progress == sorted(progress) and progress[-1] == 1.0
    kinds = [e["type"].rsplit(".", 1)[1] for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded"
    assert set(kinds[2:-1]) == {"progress"}
    times = [e["time"] for e in events]
    assert times == sorted(times)
    assert p.containers() == []
