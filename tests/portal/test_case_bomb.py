"""A case whose Parquet tables decode to gigabytes is refused at upload with 413, stored
nowhere (the reader's own bound is tested in tests/case/test_parquet_bomb.py)."""

from __future__ import annotations

import pytest

from tests.case.craft import BOMB_GROUP_ROWS, BOMB_GROUPS, capacity_bomb, capacity_string_bomb
from tests.portal.uploads import case_bytes, error_code, publish_transport, unchanged, upload
from tests.support.stack import Stack


@pytest.mark.parametrize(("craft", "says"), [
    (capacity_bomb, f"data/capacity.parquet: its footer declares {BOMB_GROUP_ROWS * BOMB_GROUPS}"
                    " rows that would decode to "),
    (capacity_string_bomb, "data/capacity.parquet: column 'dim1' holds 4294967296 bytes"),
])
async def test_parquet_bomb_upload_is_413_and_stores_nothing(
    stack: Stack, craft: object, says: str
) -> None:
    await publish_transport(stack)
    bomb = craft(case_bytes())  # type: ignore[operator]
    async with unchanged(stack):
        status, body = await upload(stack, "/api/v1/cases", bomb, params={"app": "transport"})
    assert (status, error_code(body)) == (413, "too_large"), body
    assert says in str(body), body
