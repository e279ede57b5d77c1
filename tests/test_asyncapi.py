"""The AsyncAPI document lists every cataloged message with a resolvable schema."""

from __future__ import annotations

import json

from common.contracts.catalog import EVENTS, RPCS, asyncapi_document


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_event_and_rpc_is_documented() -> None:
    doc = asyncapi_document("test")
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {e.type for e in EVENTS} <= addresses
    assert {r.queue for r in RPCS} <= addresses
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {r.method for r in RPCS} <= names


def test_every_reference_resolves() -> None:
    doc = asyncapi_document("test")
    for ref in _refs(doc):
        node: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"dangling {ref}"
            node = node[part]
    json.dumps(doc)  # serialisable as it is served
