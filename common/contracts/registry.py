"""Contracts of the registry family: runtimes, apps and their versions.

The portal stores the uploaded bytes in S3 and verifies them; backend only records what was
verified (and refuses what would break the registry's rules).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field

from common.contracts.base import Contract, Principal

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"


class RuntimeOut(Contract):
    id: str
    version: str
    manifest: dict[str, Any]
    sha256: str
    size_bytes: int
    signer_key_id: str
    created_at: datetime


class RegisterRuntime(Contract):
    actor: Principal
    version: str = Field(pattern=VERSION_PATTERN)
    manifest: dict[str, Any]
    s3_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    signer_key_id: str


class RuntimeRef(Contract):
    actor: Principal
    version: str = Field(max_length=100)


class ListRuntimes(Contract):
    actor: Principal


class RuntimeList(Contract):
    runtimes: list[RuntimeOut]


class RuntimeDeleted(Contract):
    s3_key: str  # the portal removes the blob once the row is gone


class AppVersionOut(Contract):
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


class AppOut(Contract):
    id: str
    name: str
    title: str
    active_version: str | None
    versions: list[AppVersionOut]
    created_at: datetime


class PublishAppVersion(Contract):
    actor: Principal
    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    title: str = Field(max_length=200)
    runtime_requirement: str = Field(max_length=100)
    manifest: dict[str, Any]
    s3_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    activate: bool = True  # the first version of an app is always activated


class AppRef(Contract):
    actor: Principal
    name: str = Field(max_length=100)


class AppVersionRef(Contract):
    actor: Principal
    name: str = Field(max_length=100)
    version: str = Field(max_length=100)


class ListApps(Contract):
    actor: Principal


class AppList(Contract):
    apps: list[AppOut]


class AppVersionDeleted(Contract):
    s3_key: str


GroupName = Annotated[str, Field(min_length=1, max_length=100)]


class AppRights(Contract):
    """Which groups may use an app and which may publish it. An empty ``use``: every
    signed-in user may use it. Its creator (``owner``) publishes it without a group."""

    app: str
    owner: str | None = Field(description="The user who created the app (a publisher of it).")
    use: list[str] = Field(description="Groups whose members may use the app; empty: everyone.")
    publish: list[str] = Field(description="Groups whose members (with the publisher role) "
                                           "may publish, activate and delete its versions.")


class SetAppRights(Contract):
    actor: Principal
    name: str = Field(max_length=100)
    use: list[GroupName] = Field(max_length=100, description="Groups that may use the app; empty: "
                                                       "every signed-in user.")
    publish: list[GroupName] = Field(max_length=100, description="Groups that may publish it.")


class RuntimeRegistered(Contract):
    TYPE: ClassVar[str] = "modelport.runtime.registered"
    runtime_id: str
    version: str
    signer_key_id: str


class RuntimeDeletedEvent(Contract):
    TYPE: ClassVar[str] = "modelport.runtime.deleted"
    runtime_id: str
    version: str


class AppVersionEvent(Contract):
    """Data of ``modelport.app.version_published|activated|deleted``."""

    PUBLISHED: ClassVar[str] = "modelport.app.version_published"
    ACTIVATED: ClassVar[str] = "modelport.app.activated"
    DELETED: ClassVar[str] = "modelport.app.deleted"
    app_id: str
    app: str
    version_id: str
    version: str


class AppRightsEvent(Contract):
    """Data of ``modelport.app.rights_changed``: the app's groups after the change."""

    TYPE: ClassVar[str] = "modelport.app.rights_changed"
    app_id: str
    app: str
    use: list[str]
    publish: list[str]
