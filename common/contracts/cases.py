"""Contracts of the cases family: metadata of data snapshots whose bytes live in S3."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from common.contracts.base import MAX_OFFSET, Contract, Principal

CASE_NAME_MAX = 200


class CaseOut(Contract):
    id: str
    owner: str  # username
    app: str
    app_version: str | None
    name: str
    sha256: str
    size_bytes: int
    shared_group: str | None
    created_at: datetime


class RegisterCase(Contract):
    """Record a case the portal stored at ``s3_key`` and checked against the app."""

    actor: Principal
    case_id: str  # chosen by the portal, as it names the S3 key
    app: str = Field(max_length=100)
    app_version: str | None = Field(None, max_length=100)
    name: str = Field(min_length=1, max_length=CASE_NAME_MAX)
    s3_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class CaseRef(Contract):
    actor: Principal
    case_id: str = Field(max_length=64)


class CaseLocation(Contract):
    case: CaseOut
    s3_key: str


class ListCases(Contract):
    actor: Principal
    app: str | None = Field(None, max_length=100, description="Only cases of this app.")
    limit: int = Field(100, ge=1, le=1000, description="Cases per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Cases to skip.")


class CaseList(Contract):
    cases: list[CaseOut]
    total: int


class RenameCase(Contract):
    actor: Principal
    case_id: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=CASE_NAME_MAX)


class ShareCase(Contract):
    """Share read-only with ``group`` (None stops sharing)."""

    actor: Principal
    case_id: str = Field(max_length=64)
    group: str | None = Field(
        max_length=100, description="Share read-only with this group; null stops sharing."
    )


class CaseEvent(Contract):
    CREATED: ClassVar[str] = "modelport.case.created"
    DELETED: ClassVar[str] = "modelport.case.deleted"
    UPDATED: ClassVar[str] = "modelport.case.updated"  # renamed or (un)shared; see ``extra``
    case_id: str
    app: str
    owner: str
    extra: dict[str, Any] = Field(default_factory=dict)
    groups: list[str] = Field(default_factory=list, description=(
        "The groups the case is (or, before this change, was) shared with: their members' "
        "case lists changed too."))
