"""Public shapes of runtimes, apps, cases and groups (built from the backend's contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.contracts.cases import CASE_NAME_MAX
from common.contracts.groups import GROUP_PATTERN
from portal_svc.api.models import ApiModel


class Reply(BaseModel):
    """A response body, read from a contract by attribute (its ``v`` is left behind)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of(cls, contract: object) -> Any:
        return cls.model_validate(contract)


class PlatformKey(Reply):
    algorithm: str = Field(description="Always `x25519`.")
    key_id: str = Field(description="First 16 hex digits of SHA-256 over the raw key.")
    public_key: str = Field(description="Base64 of the 32 raw key bytes.")


class Runtime(Reply):
    id: str
    version: str
    manifest: dict[str, Any]
    sha256: str
    size_bytes: int
    signer_key_id: str
    created_at: datetime


class RuntimeList(Reply):
    runtimes: list[Runtime]


class AppVersion(Reply):
    id: str
    app: str
    version: str
    title: str
    runtime_requirement: str
    manifest: dict[str, Any]
    sha256: str
    size_bytes: int
    created_at: datetime
    active: bool


class App(Reply):
    id: str
    name: str
    title: str
    active_version: str | None
    versions: list[AppVersion]
    created_at: datetime


class AppList(Reply):
    apps: list[App]


class UploadAppQuery(ApiModel):
    activate: bool = Field(
        True, description="Make the new version active (the first version always is)."
    )


class Case(Reply):
    id: str
    owner: str
    app: str
    app_version: str | None
    name: str
    sha256: str
    size_bytes: int
    shared_group: str | None
    created_at: datetime


class CasePage(Reply):
    cases: list[Case]
    total: int


class UploadCaseQuery(ApiModel):
    app: str = Field(min_length=1, max_length=100, description="The app the case belongs to.")
    name: str | None = Field(
        None, min_length=1, max_length=CASE_NAME_MAX,
        description="Defaults to the form's `name` field, then the file's name.",
    )


class ListCasesQuery(ApiModel):
    app: str | None = Field(None, max_length=100, description="Only cases of this app.")
    limit: int = Field(100, ge=1, le=1000, description="Cases per page.")
    offset: int = Field(0, ge=0, description="Cases to skip.")


class RenameCaseRequest(ApiModel):
    name: str = Field(min_length=1, max_length=CASE_NAME_MAX)


class ShareCaseRequest(ApiModel):
    group: str | None = Field(description="Share read-only with this group; null stops sharing.")


class ElementChange(Reply):
    element: list[str]
    old: Any
    new: Any


class IdentifierChange(Reply):
    identifier: str
    status: str = Field(description="added, removed, changed or schema_changed")
    changes: list[ElementChange]


class CaseDiff(Reply):
    app: str
    old_version: str
    new_version: str
    identifiers: list[IdentifierChange]


class Group(Reply):
    id: str
    name: str
    members: list[str]
    created_at: datetime


class GroupList(Reply):
    groups: list[Group]


class CreateGroupRequest(ApiModel):
    name: str = Field(pattern=GROUP_PATTERN)


class AddMemberRequest(ApiModel):
    username: str = Field(min_length=1, max_length=100)
