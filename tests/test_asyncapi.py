"""The AsyncAPI document: valid AsyncAPI 3.0 (the official JSON schema), every reference
resolves, every RPC method and every event the code publishes is in it, and the portal serves
it at ``/api/v1/asyncapi.json``."""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from typing import Any

import jsonschema

import common.contracts
from common.contracts.catalog import EVENTS, asyncapi_document
from common.contracts.methods import ALL_METHODS
from portal_svc.api.docs import API_VERSION
from portal_svc.app import make_app
from tests.portal.conftest import portal_settings
from tests.portal.fakes import ExplodingBackend

REPO = Path(__file__).resolve().parents[1]
# The official schema, from the AsyncAPI Initiative's @asyncapi/specs 6.11.1 (Apache-2.0):
# schemas/3.0.0-without-$id.json, unchanged.
SCHEMA = json.loads((Path(__file__).parent / "data/asyncapi-3.0.0.schema.json").read_text())
# Only backend publishes events (through its outbox); session_svc will, through backend too.
PUBLISHERS = ("backend_svc",)


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_document_is_valid_asyncapi_3() -> None:
    doc = asyncapi_document("test")
    assert doc["asyncapi"] == "3.0.0"
    assert _errors(doc) == []


def test_the_schema_check_catches_a_broken_document() -> None:
    doc = asyncapi_document("test")
    broken = copy.deepcopy(doc)
    next(iter(broken["operations"].values()))["action"] = "publish"  # AsyncAPI 2's word
    assert _errors(broken)
    del broken["info"]
    assert len(_errors(broken)) >= 2


def test_every_event_and_rpc_is_documented() -> None:
    doc = asyncapi_document("test")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {e.type for e in EVENTS} <= addresses
    assert {m.server for m in ALL_METHODS} <= addresses
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {m.name for m in ALL_METHODS} <= names


def test_every_reference_resolves() -> None:
    doc = asyncapi_document("test")
    for ref in _refs(doc):
        node: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"dangling {ref}"
            node = node[part]
    json.dumps(doc)  # serialisable as it is served


def _event_constants() -> dict[str, dict[str, str]]:
    """``{class name: {constant: event type}}`` of the contracts' ``modelport.*`` constants."""
    found: dict[str, dict[str, str]] = {}
    for info in pkgutil.iter_modules(common.contracts.__path__):
        module = importlib.import_module(f"common.contracts.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            types = {k: v for k, v in vars(cls).items()
                     if isinstance(v, str) and v.startswith("modelport.")}
            if types:
                found[name] = types
    return found


def _published_types() -> set[str]:
    """Every event type the publishing services name in their code (``JobEvent.QUEUED``)."""
    constants = _event_constants()
    published = set()
    for package in PUBLISHERS:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    event_type = constants.get(node.value.id, {}).get(node.attr)
                    if event_type:
                        published.add(event_type)
    return published


def test_documented_events_are_exactly_those_published() -> None:
    documented = {e.type for e in EVENTS}
    published = _published_types()
    assert published, "found no published event type: the scan is broken"
    assert published - documented == set(), "published but not documented"
    assert documented - published == set(), "documented but never published"


async def test_the_portal_serves_it_without_sign_in(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(portal_settings("amqp://unused/"), ExplodingBackend()))
    resp = await client.get("/api/v1/asyncapi.json")
    assert resp.status == 200
    assert await resp.json() == json.loads(json.dumps(asyncapi_document(API_VERSION)))
