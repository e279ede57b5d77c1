"""Schemathesis over the portal's OpenAPI document, with a plain user's token.

Requests made from the document (valid and invalid bodies, queries and path parameters) go
to a real portal and backend with prepared data (tests/access/rights_world.py). Each answer
must not be a 5xx, must use a status the document declares for the operation, and its body
must match the declared schema. The number of examples per operation is bounded
(``MAX_EXAMPLES``); hypothesis keeps no database, so runs do not depend on earlier ones.

Left out, each for a reason: the live stream ``GET /api/v1/events/jobs`` and the log's
``follow`` mode never end by themselves (tests/portal/test_jobs_live.py covers them); ``POST
/api/v1/auth/logout`` would revoke the token the run uses (tests/portal/test_api_auth.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from tests.access import rights_world as rw
from tests.access.rights_world import World

MAX_EXAMPLES = 12
LEFT_OUT = {("GET", "/api/v1/events/jobs"), ("POST", "/api/v1/auth/logout")}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]



def _check_operation(operation: Any, base_url: str, headers: dict[str, str]
                     ) -> Callable[[], None]:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        if case.query and "follow" in case.query:
            case.query = {k: v for k, v in case.query.items() if k != "follow"}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS)

    return check


def _run(document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every operation's examples; the failures as text (one per operation)."""
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in LEFT_OUT:
            continue
        try:
            _check_operation(operation, base_url, {"Authorization": f"Bearer {token}"})()
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


@pytest.fixture
def world(rights_world: World) -> World:
    """The prepared platform (tests/access/conftest.py)."""
    return rights_world


async def test_no_5xx_and_every_answer_matches_the_document(world: World) -> None:
    stack = world.stack
    document = await rw.ok(stack, "GET", "/api/v1/openapi.json", None, 200)
    listed = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert LEFT_OUT <= listed, "a left-out operation is gone: update LEFT_OUT"
    failures = await asyncio.to_thread(_run, document, stack.portal_url, world.tokens["user"])
    assert failures == [], "\n\n".join(failures)


async def test_what_schemathesis_found_stays_fixed(world: World) -> None:
    """An offset beyond PostgreSQL's bigint was a 500 on every paged list."""
    for path in ("/api/v1/sessions", "/api/v1/jobs", "/api/v1/cases", "/api/v1/users"):
        status, body = await rw.api(world.stack, "GET", path, world.tokens["admin"],
                                    params={"offset": str(2**63)})
        assert (status, body["error"]["code"]) == (400, "invalid_request"), (path, body)
