"""Public shapes of runtimes, apps, cases and groups, derived from the backend's contracts
(:mod:`portal_svc.api.public`); the case diff and the platform key have no contract."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.contracts import groups as contracts_groups
from common.contracts import registry as contracts
from common.contracts.cases import (
    CASE_NAME_MAX,
    CaseList,
    CaseOut,
    ListCases,
    RenameCase,
    ShareCase,
)
from common.contracts.groups import CreateGroup, GroupMember, GroupOut
from common.contracts.registry import AppOut, AppRights, AppVersionOut, RuntimeOut, SetAppRights
from portal_svc.api.models import ApiModel, Reply
from portal_svc.api.public import public


class PlatformKey(Reply):
    algorithm: str = Field(description="Always `x25519`.")
    key_id: str = Field(description="First 16 hex digits of SHA-256 over the raw key.")
    public_key: str = Field(description="Base64 of the 32 raw key bytes.")


Runtime = public(RuntimeOut, Reply)
RuntimeList = public(contracts.RuntimeList, Reply)
AppVersion = public(AppVersionOut, Reply)
App = public(AppOut, Reply)
AppList = public(contracts.AppList, Reply)
AppRightsReply = public(AppRights, Reply, name="AppRights")
SetAppRightsRequest = public(SetAppRights, ApiModel, name="SetAppRightsRequest", drop={"name"})


class UploadAppQuery(ApiModel):
    activate: bool = Field(
        True, description="Make the new version active (the first version always is)."
    )


Case = public(CaseOut, Reply)
CasePage = public(CaseList, Reply, name="CasePage")
ListCasesQuery = public(ListCases, ApiModel, name="ListCasesQuery")
RenameCaseRequest = public(RenameCase, ApiModel, name="RenameCaseRequest", drop={"case_id"})
ShareCaseRequest = public(ShareCase, ApiModel, name="ShareCaseRequest", drop={"case_id"})


class UploadCaseQuery(ApiModel):
    app: str = Field(min_length=1, max_length=100, description="The app the case belongs to.")
    name: str | None = Field(
        None, min_length=1, max_length=CASE_NAME_MAX,
        description="Defaults to the form's `name` field, then the file's name.",
    )


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


Group = public(GroupOut, Reply)
GroupList = public(contracts_groups.GroupList, Reply)
CreateGroupRequest = public(CreateGroup, ApiModel, name="CreateGroupRequest")
AddMemberRequest = public(GroupMember, ApiModel, name="AddMemberRequest", drop={"group"})
