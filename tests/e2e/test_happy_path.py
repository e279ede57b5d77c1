"""Jobs end to end on the real platform: REST API → backend scheduler → solve_svc → a real
runtime container → result case, log and events back through the API and AMQP."""

from __future__ import annotations

import pytest

from tests.e2e.platform import Platform, result_case

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


async def test_uploaded_case_runs_and_lineage_names_it(platform: Platform) -> None:
    p = platform
    case_id = await p.upload_case("transport", {"freight": 90.0})
    job = await p.submit("transport", input_case_id=case_id)
    done = await p.finished(job["id"])
    assert done["state"] == "succeeded", done
    status, data = await p.call("GET", f"/api/v1/jobs/{job['id']}/result")
    assert status == 200
    result = result_case(data)
    assert result.values("total_cost") == pytest.approx(153.675)
    assert result.metadata["lineage"]["input"]["sha256"]
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
