"""The errors naming infrastructure that is down keep their class, code and message across
the RPC hop (``to_dict`` → JSON → ``from_dict``)."""

from __future__ import annotations

import json

import pytest

from common.errors import (
    BrokerUnavailable,
    DatabaseUnavailable,
    InfraUnavailable,
    ModelportError,
    StorageUnavailable,
    Unavailable,
)


@pytest.mark.parametrize(("kind", "code", "message"), [
    (DatabaseUnavailable, "database_unavailable", "database unavailable"),
    (BrokerUnavailable, "broker_unavailable", "message broker unavailable"),
    (StorageUnavailable, "storage_unavailable", "object storage unavailable"),
])
def test_survives_the_rpc_hop(kind: type[InfraUnavailable], code: str, message: str) -> None:
    sent = kind(detail="ConnectionRefusedError")
    back = ModelportError.from_dict(json.loads(json.dumps(sent.to_dict())))
    assert type(back) is kind and isinstance(back, Unavailable)
    assert (back.code, back.status) == (code, 503)
    assert back.message == f"{message}: ConnectionRefusedError"


def test_other_503s_stay_plain_unavailable() -> None:
    back = ModelportError.from_dict({"code": "no_server", "message": "x", "status": 503})
    assert type(back) is Unavailable and back.code == "no_server"
