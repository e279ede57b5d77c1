"""The session agent's HTTP data API, run as a real subprocess behind the test-side host:
reads, writes (good and refused, data unchanged on refusal), procedures, cases, Solve and the
live WebSocket."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest

from modelport.appkit import load_app, save_case
from tests.agent.session_support import BASE, Live, next_ws, running
from tests.agent.support import EXAMPLES

pytestmark = pytest.mark.timeout(120)


async def test_the_webui_and_the_app_are_served_under_the_base_path_and_at_root() -> None:
    async with running() as live:
        async with live.http.get(live.url()) as page:
            html = await page.text()
            assert page.status == 200 and 'src="static/app.js"' in html
            assert "sandbox allow-scripts" in page.headers["Content-Security-Policy"]
            assert "<script>" not in html  # no inline script under the CSP
        async with live.http.get(live.url("static/vendor/tabulator-6.3.1/LICENSE")) as lic:
            assert lic.status == 200 and "MIT" in await lic.text()
        status, described = await live.call("GET", "api/app")
        assert status == 200
        assert [p["name"] for p in described["app"]["pages"]] == ["inputs", "results"]
        root = f"http://127.0.0.1:{live.port}/api/data/demand"
        async with live.http.get(root) as stripped:  # a proxy that strips the prefix
            assert (await stripped.json())["value"] == {"new-york": 325, "chicago": 300,
                                                         "topeka": 275}
        async with live.http.get(live.url()[:-1], allow_redirects=False) as bare:
            assert bare.status == 302 and bare.headers["Location"] == BASE


async def test_a_sandboxed_page_may_call_the_api_with_cors_for_the_null_origin() -> None:
    async with running() as live:
        headers = {"Origin": "null", "Access-Control-Request-Method": "PATCH"}
        async with live.http.options(live.url("api/data/demand"), headers=headers) as pre:
            assert pre.status == 204
            assert pre.headers["Access-Control-Allow-Origin"] == "null"
            assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
        async with live.http.get(live.url("api/data"),
                                 headers={"Origin": "https://elsewhere.example"}) as other:
            assert "Access-Control-Allow-Origin" not in other.headers


async def test_cells_change_all_at_once_and_the_revision_moves() -> None:
    async with running() as live:
        _, before = await live.call("GET", "api/data")
        status, answer = await live.call("PATCH", "api/data/distance", {"changes": [
            {"element": ["seattle", "topeka"], "value": 2.0},
            {"element": ["san-diego", "topeka"], "value": "1.5"},
        ]})
        assert status == 422  # "1.5" is a string: the whole batch is refused
        assert answer["error"]["issues"][0]["rule"] == "type"
        assert await live.value("distance") == before["values"]["distance"]
        status, answer = await live.call("PATCH", "api/data/distance", {"changes": [
            {"element": ["seattle", "topeka"], "value": 2.0},
            {"element": ["san-diego", "topeka"], "value": 1.5},
        ]})
        assert status == 200, answer
        assert ["seattle", "topeka", 2.0] in answer["value"]
        assert answer["revision"] == before["revision"] + 1
        status, answer = await live.call("PATCH", "api/data/freight",
                                         {"changes": [{"element": [], "value": 45}]})
        assert status == 200 and answer["value"] == 45


BAD_WRITES = [
    ("demand", [{"element": ["new-york"], "value": "lots"}], 422, "demand", ["new-york"], "type"),
    ("demand", [{"element": ["new-york"], "value": -3}], 422, "demand", ["new-york"],
     "lower_bound"),
    ("demand", [{"element": ["boston"], "value": 3}], 422, "demand", ["boston"], "domain"),
    ("demand", [{"element": ["new-york"], "value": None}], 422, "demand", ["new-york"],
     "required"),
    ("distance", [{"element": ["seattle"], "value": 1}], 422, "distance", ["seattle"],
     "domain"),
    ("bogus", [{"element": [], "value": 1}], 404, "bogus", [], "not_declared"),
    ("total_cost", [{"element": [], "value": 1}], 422, "total_cost", [], "read_only"),
]


@pytest.mark.parametrize(("name", "changes", "status", "identifier", "element", "rule"),
                         BAD_WRITES, ids=[w[-1] + "-" + w[0] for w in BAD_WRITES])
async def test_a_refused_write_names_identifier_element_and_rule_and_changes_nothing(
    name: str, changes: list[dict[str, Any]], status: int, identifier: str,
    element: list[str], rule: str,
) -> None:
    async with running() as live:
        _, before = await live.call("GET", "api/data")
        got, answer = await live.call("PATCH", f"api/data/{name}", {"changes": changes})
        assert got == status, answer
        issue = answer["error"]["issues"][0]
        assert (issue["identifier"], issue["element"], issue["rule"]) == (identifier, element,
                                                                          rule)
        assert identifier in issue["message"]
        _, after = await live.call("GET", "api/data")
        assert after == before


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"changes": 3}',
                                  b'{"changes": [{"element": "new-york", "value": 1}]}'])
async def test_a_malformed_body_is_400_and_changes_nothing(body: bytes) -> None:
    async with running() as live:
        _, before = await live.call("GET", "api/data")
        status, answer = await live.call("PATCH", "api/data/demand", data=body)
        assert status == 400 and answer["error"]["code"] == "bad_request"
        assert (await live.call("GET", "api/data"))[1] == before


async def test_a_set_is_replaced_whole_and_values_of_dropped_elements_go() -> None:
    async with running() as live:
        status, _ = await live.call("PUT", "api/data/markets",
                                    {"value": ["new-york", "chicago", "topeka", "boston"]})
        assert status == 422  # boston has no demand and no distance, both required
        status, answer = await live.call("PUT", "api/data/markets",
                                         {"value": ["new-york", "chicago"]})
        assert status == 200, answer
        assert await live.value("demand") == {"new-york": 325, "chicago": 300}


def other_apps_case() -> bytes:
    sleeper = load_app(EXAMPLES / "sleeper")
    buffer = io.BytesIO()
    save_case(sleeper.app, buffer, {"seconds": 1.0})
    return buffer.getvalue()


async def test_a_case_of_another_app_is_refused_and_changes_nothing() -> None:
    async with running() as live:
        _, before = await live.call("GET", "api/data")
        status, answer = await live.call("PUT", "api/case", data=other_apps_case())
        assert status == 422 and answer["error"]["code"] == "wrong_app"
        assert "sleeper" in answer["error"]["message"]
        case_id = live.host.add_case("sleepy", other_apps_case())
        status, answer = await live.call("POST", "api/case/open", {"case_id": case_id})
        assert status == 422 and answer["error"]["code"] == "wrong_app"
        status, answer = await live.call("POST", "api/case/open", {"case_id": "nope"})
        assert status == 404 and answer["error"]["code"] == "not_found"
        assert (await live.call("GET", "api/data"))[1] == before


async def test_save_as_then_save_then_open_go_through_the_host() -> None:
    async with running() as live:
        status, answer = await live.call("POST", "api/case/save")
        assert status == 422 and "Save as" in answer["error"]["message"]  # no name yet
        await live.call("PATCH", "api/data/demand",
                        {"changes": [{"element": ["topeka"], "value": 280}]})
        status, saved = await live.call("POST", "api/case/save-as", {"name": "plan A"})
        assert status == 200 and saved["case"]["name"] == "plan A" and not saved["dirty"]
        case_id = saved["case"]["case_id"]
        await live.call("PATCH", "api/data/demand",
                        {"changes": [{"element": ["topeka"], "value": 290}]})
        status, resaved = await live.call("POST", "api/case/save")
        assert status == 200 and resaved["case"]["case_id"] == case_id  # overwritten
        assert [r.params.get("case_id") for r in live.host.requests
                if r.method == "save_case"] == [None, case_id]
        await live.call("PATCH", "api/data/demand",
                        {"changes": [{"element": ["topeka"], "value": 1}]})
        status, opened = await live.call("POST", "api/case/open", {"case_id": case_id})
        assert status == 200 and not opened["dirty"]
        assert (await live.value("demand"))["topeka"] == 290
        _, listed = await live.call("GET", "api/cases")
        assert [c["name"] for c in listed["cases"]] == ["plan A"]


async def test_a_refused_save_says_why() -> None:
    async with running() as live:
        live.host.refuse["save_case"] = "forbidden"
        status, answer = await live.call("POST", "api/case/save-as", {"name": "x"})
        assert status == 403 and answer["error"]["code"] == "forbidden"
        status, answer = await live.call("POST", "api/case/save-as", {"name": ""})
        assert status == 400


async def solve_and_wait(live: Live, socket: aiohttp.ClientWebSocketResponse
                         ) -> tuple[dict[str, Any], list[str]]:
    """Press Solve; the final job message and the identifiers the pages heard changed."""
    status, answer = await live.call("POST", "api/procedures/solve")
    assert status == 202, answer
    job_id = answer["job"]["job_id"]
    seen: list[dict[str, Any]] = []
    changed: list[str] = []
    while True:
        message = await next_ws(socket, "", 60)
        if message["type"] == "data_changed":
            changed += message["identifiers"]
        if message["type"] != "job" or message["job_id"] != job_id:
            continue
        seen.append(message)
        if message["loaded"] or message["error"] or message["state"] in ("failed", "cancelled"):
            break
    assert message["loaded"], seen
    progress = [j["progress"] for j in seen]
    assert progress == sorted(progress) and any(0 < p < 1 for p in progress)
    return message, changed


async def test_solve_submits_the_current_data_and_loads_the_result_live() -> None:
    async with running() as live:
        async with live.http.ws_connect(live.url("ws")) as socket:
            hello = await next_ws(socket, "hello")
            assert hello["revision"] == 0 and hello["job"] is None
            await solve_and_wait(live, socket)
            assert await live.value("total_cost") == pytest.approx(153.675)
            await live.call("PATCH", "api/data/demand",
                            {"changes": [{"element": ["new-york"], "value": 340}]})
            changed = await next_ws(socket, "data_changed")
            assert changed["identifiers"] == ["demand"] and changed["dirty"]
            _, loaded = await solve_and_wait(live, socket)
            assert "total_cost" in loaded and "shipment" in loaded
            assert await live.value("total_cost") > 153.675
        submitted = [r for r in live.host.requests if r.method == "submit_job"]
        assert len(submitted) == 2 and submitted[0].params["procedure"] == "solve"


async def test_a_second_solve_while_one_runs_is_409_and_a_failed_job_is_shown() -> None:
    async with running("sleeper") as live:
        async with live.http.ws_connect(live.url("ws")) as socket:
            await live.call("PATCH", "api/data/seconds",
                            {"changes": [{"element": [], "value": 30}]})
            status, first = await live.call("POST", "api/procedures/sleep")
            assert status == 202
            status, second = await live.call("POST", "api/procedures/sleep")
            assert status == 409 and second["error"]["code"] == "busy"
            status, failed = await live.call("POST", "api/procedures/fail")
            assert status == 409
            status, missing = await live.call("POST", "api/procedures/nope")
            assert status == 404 and "nope" in missing["error"]["message"]
            await next_ws(socket, "job", 30, job_id=first["job"]["job_id"])


async def test_a_session_procedure_runs_in_the_session_and_pages_hear_of_it() -> None:
    async with running("facility-location") as live:
        async with live.http.ws_connect(live.url("ws")) as socket:
            await next_ws(socket, "hello")
            for name, value in (("n_facilities", 4), ("n_customers", 9)):
                status, _ = await live.call("PATCH", f"api/data/{name}",
                                            {"changes": [{"element": [], "value": value}]})
                assert status == 200
            status, answer = await live.call("POST", "api/procedures/generate")
            assert status == 200 and "facilities" in answer["changed"]
            changed = await next_ws(socket, "data_changed", revision=answer["revision"])
            assert "customers" in changed["identifiers"]
            assert len(await live.value("customers")) == 9


async def test_a_dropped_websocket_reconnects_and_hears_the_current_revision() -> None:
    async with running() as live:
        async with live.http.ws_connect(live.url("ws")) as socket:
            await next_ws(socket, "hello")
        await live.call("PATCH", "api/data/freight", {"changes": [{"element": [], "value": 80}]})
        async with live.http.ws_connect(live.url("ws")) as again:
            hello = await next_ws(again, "hello")
            assert hello["revision"] == 1 and hello["dirty"]
            await again.send_str('{"type": "ping"}')
            assert (await next_ws(again, "pong"))["revision"] == 1
