"""A small, fully described case (transport-like data with results) for the case tests."""

from __future__ import annotations

import io
from typing import Any

import pytest

from modelport.case import IdentifierInfo, write_case

IDENTIFIERS = [
    IdentifierInfo("plants", "set", (), "string"),
    IdentifierInfo("markets", "set", (), "string"),
    IdentifierInfo("capacity", "parameter", ("plants",), "real", "cases"),
    IdentifierInfo("distance", "parameter", ("plants", "markets"), "real", "thousand miles"),
    IdentifierInfo("route", "parameter", ("markets", "markets"), "binary"),
    IdentifierInfo("trucks", "parameter", ("plants",), "integer"),
    IdentifierInfo("label", "parameter", ("markets",), "string"),
    IdentifierInfo("freight", "parameter", (), "real", "$/case/thousand miles"),
    IdentifierInfo("note", "parameter", (), "string"),
    IdentifierInfo("total_cost", "result", (), "real", "k$"),
]


def sample_data() -> dict[str, Any]:
    return {
        "plants": ["seattle", "san-diego"],
        "markets": ["new-york", "chicago", "topeka"],
        "capacity": {"seattle": 350.0, "san-diego": 600.0},
        "distance": {
            ("seattle", "new-york"): 2.5, ("seattle", "chicago"): 1.7,
            ("seattle", "topeka"): 1.8, ("san-diego", "new-york"): 2.5,
            ("san-diego", "chicago"): 1.8, ("san-diego", "topeka"): 1.4,
        },
        "route": {("new-york", "chicago"): 1, ("chicago", "topeka"): 0},
        "trucks": {"seattle": 3},
        "label": {"new-york": "NY — big apple", "topeka": "TOP"},
        "freight": 90.0,
        "note": None,
        "total_cost": 153.675,
    }


@pytest.fixture
def data() -> dict[str, Any]:
    return sample_data()


@pytest.fixture
def case_bytes(data: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    write_case(out, "transport", "1.0.0", data, identifiers=IDENTIFIERS,
               metadata={"procedure": "solve"})
    return out.getvalue()
