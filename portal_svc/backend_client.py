"""A typed client for the backend's RPC methods, over :class:`~common.amqp.rpc.RpcClient`.

Every call returns a contract model or raises a :class:`~common.errors.ModelportError`: the
backend's own refusal (its code and status), :class:`~common.errors.RpcTimeout` when no reply
comes in time, or :class:`~common.errors.Unavailable` when the broker link is down.
"""

from __future__ import annotations

from typing import TypeVar

import aiormq
from aio_pika.abc import AbstractRobustConnection
from pydantic import BaseModel, ValidationError

from common.amqp import topology
from common.amqp.rpc import RpcClient, validation_message
from common.contracts.base import Principal
from common.contracts.cases import (
    CaseList,
    CaseLocation,
    CaseMethods,
    CaseOut,
    CaseRef,
    ListCases,
    RegisterCase,
    RenameCase,
    ShareCase,
)
from common.contracts.groups import (
    CreateGroup,
    GroupList,
    GroupMember,
    GroupMethods,
    GroupOut,
    ListGroups,
)
from common.contracts.jobs import JobList, JobMethods, JobOut, JobRef, ListJobs, SubmitJob
from common.contracts.registry import (
    AppList,
    AppOut,
    AppRef,
    AppVersionDeleted,
    AppVersionOut,
    AppVersionRef,
    ListApps,
    ListRuntimes,
    PublishAppVersion,
    RegisterRuntime,
    RegistryMethods,
    RuntimeDeleted,
    RuntimeList,
    RuntimeOut,
    RuntimeRef,
)
from common.contracts.system import PING, Ping, Pong
from common.contracts.users import (
    Authenticate,
    CreateUser,
    Empty,
    ListUsers,
    Methods,
    ResolveToken,
    RevokeToken,
    TokenIssued,
    UserList,
    UserOut,
)
from common.errors import BadRequest, ModelportError, Unavailable

R = TypeVar("R", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)
PING_TIMEOUT_S = 2.0
_LINK_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)


class BackendClient:
    """Calls ``backend_svc`` on :data:`~common.amqp.topology.BACKEND_RPC`."""

    def __init__(
        self, rpc: RpcClient, connection: AbstractRobustConnection | None = None,
        *, server: str = topology.BACKEND_RPC,
    ):
        self._rpc = rpc
        self._connection = connection
        self._server = server

    async def login(self, username: str, password: str, *, client_ip: str = "") -> TokenIssued:
        """Check a password and get a new API token; 401 ``unauthenticated`` on any mismatch,
        429 while the name is locked."""
        request = _build(Authenticate, username=username, password=password, client_ip=client_ip)
        return await self._call(Methods.LOGIN, request, TokenIssued)

    async def resolve_token(self, token: str) -> UserOut:
        """The user a token belongs to; 401 when it is unknown, expired or revoked."""
        return await self._call(Methods.RESOLVE_TOKEN, _build(ResolveToken, token=token), UserOut)

    async def revoke_token(self, token: str) -> None:
        """Revoke a token so it no longer resolves."""
        await self._call(Methods.REVOKE_TOKEN, _build(RevokeToken, token=token), Empty)

    async def create_user(
        self, actor: Principal, *, username: str, password: str,
        display_name: str = "", is_admin: bool = False,
    ) -> UserOut:
        """Create a user as ``actor``; 403 when not allowed, 409 when the name is taken."""
        request = _build(
            CreateUser, actor=actor, username=username, password=password,
            display_name=display_name, is_admin=is_admin,
        )
        return await self._call(Methods.CREATE_USER, request, UserOut)

    async def list_users(self, actor: Principal, *, limit: int = 100, offset: int = 0) -> UserList:
        """A page of users, as ``actor`` may see them."""
        request = _build(ListUsers, actor=actor, limit=limit, offset=offset)
        return await self._call(Methods.LIST_USERS, request, UserList)

    # --- registry: runtimes and apps -------------------------------------------------------

    async def register_runtime(self, actor: Principal, **fields: object) -> RuntimeOut:
        """Record a verified runtime (fields of RegisterRuntime); 409 ``duplicate_version``."""
        request = _build(RegisterRuntime, actor=actor, **fields)
        return await self._call(RegistryMethods.REGISTER_RUNTIME, request, RuntimeOut)

    async def list_runtimes(self, actor: Principal) -> RuntimeList:
        request = _build(ListRuntimes, actor=actor)
        return await self._call(RegistryMethods.LIST_RUNTIMES, request, RuntimeList)

    async def get_runtime(self, actor: Principal, version: str) -> RuntimeOut:
        """The runtime of ``version``; 404 when there is none."""
        request = _build(RuntimeRef, actor=actor, version=version)
        return await self._call(RegistryMethods.GET_RUNTIME, request, RuntimeOut)

    async def delete_runtime(self, actor: Principal, version: str) -> RuntimeDeleted:
        """Forget a runtime and get its S3 key; 409 ``in_use`` while an app needs it."""
        request = _build(RuntimeRef, actor=actor, version=version)
        return await self._call(RegistryMethods.DELETE_RUNTIME, request, RuntimeDeleted)

    async def publish_app(self, actor: Principal, **fields: object) -> AppVersionOut:
        """Record a verified app version (fields of PublishAppVersion); 409 when it exists,
        400 ``runtime_unsatisfied`` when no registered runtime meets its requirement."""
        request = _build(PublishAppVersion, actor=actor, **fields)
        return await self._call(RegistryMethods.PUBLISH_APP, request, AppVersionOut)

    async def list_apps(self, actor: Principal) -> AppList:
        return await self._call(RegistryMethods.LIST_APPS, _build(ListApps, actor=actor), AppList)

    async def get_app(self, actor: Principal, name: str) -> AppOut:
        """The app with its versions; 404 when there is none."""
        request = _build(AppRef, actor=actor, name=name)
        return await self._call(RegistryMethods.GET_APP, request, AppOut)

    async def activate_app(self, actor: Principal, name: str, version: str) -> AppOut:
        request = _build(AppVersionRef, actor=actor, name=name, version=version)
        return await self._call(RegistryMethods.ACTIVATE_APP, request, AppOut)

    async def delete_app_version(
        self, actor: Principal, name: str, version: str
    ) -> AppVersionDeleted:
        """Forget an app version and get its S3 key; 409 ``in_use`` when it is needed."""
        request = _build(AppVersionRef, actor=actor, name=name, version=version)
        return await self._call(RegistryMethods.DELETE_APP_VERSION, request, AppVersionDeleted)

    # --- cases -----------------------------------------------------------------------------

    async def register_case(self, actor: Principal, **fields: object) -> CaseOut:
        """Record a checked case stored in S3 (fields of RegisterCase)."""
        request = _build(RegisterCase, actor=actor, **fields)
        return await self._call(CaseMethods.REGISTER, request, CaseOut)

    async def list_cases(
        self, actor: Principal, *, app: str | None = None, limit: int = 100, offset: int = 0
    ) -> CaseList:
        request = _build(ListCases, actor=actor, app=app, limit=limit, offset=offset)
        return await self._call(CaseMethods.LIST, request, CaseList)

    async def get_case(self, actor: Principal, case_id: str) -> CaseLocation:
        """A case and where its bytes are; 404 for a case ``actor`` may not read."""
        request = _build(CaseRef, actor=actor, case_id=case_id)
        return await self._call(CaseMethods.GET, request, CaseLocation)

    async def rename_case(self, actor: Principal, case_id: str, name: str) -> CaseOut:
        request = _build(RenameCase, actor=actor, case_id=case_id, name=name)
        return await self._call(CaseMethods.RENAME, request, CaseOut)

    async def share_case(self, actor: Principal, case_id: str, group: str | None) -> CaseOut:
        request = _build(ShareCase, actor=actor, case_id=case_id, group=group)
        return await self._call(CaseMethods.SHARE, request, CaseOut)

    async def delete_case(self, actor: Principal, case_id: str) -> CaseLocation:
        """Forget a case; the reply says which S3 object to remove."""
        request = _build(CaseRef, actor=actor, case_id=case_id)
        return await self._call(CaseMethods.DELETE, request, CaseLocation)

    # --- groups ----------------------------------------------------------------------------

    async def create_group(self, actor: Principal, name: str) -> GroupOut:
        request = _build(CreateGroup, actor=actor, name=name)
        return await self._call(GroupMethods.CREATE, request, GroupOut)

    async def add_group_member(self, actor: Principal, group: str, username: str) -> GroupOut:
        request = _build(GroupMember, actor=actor, group=group, username=username)
        return await self._call(GroupMethods.ADD_MEMBER, request, GroupOut)

    async def list_groups(self, actor: Principal) -> GroupList:
        request = _build(ListGroups, actor=actor)
        return await self._call(GroupMethods.LIST, request, GroupList)

    # --- jobs ------------------------------------------------------------------------------

    async def submit_job(self, actor: Principal, **fields: object) -> JobOut:
        """Queue a job (fields of SubmitJob); 404 for an unknown app, version or case."""
        return await self._call(JobMethods.SUBMIT, _build(SubmitJob, actor=actor, **fields), JobOut)

    async def list_jobs(self, actor: Principal, **filters: object) -> JobList:
        """A page of jobs (fields of ListJobs): the actor's own, or anyone's for an admin."""
        return await self._call(JobMethods.LIST, _build(ListJobs, actor=actor, **filters), JobList)

    async def get_job(self, actor: Principal, job_id: str) -> JobOut:
        """A job; 404 when it does not exist or belongs to someone else."""
        return await self._call(JobMethods.GET, _build(JobRef, actor=actor, job_id=job_id), JobOut)

    async def cancel_job(self, actor: Principal, job_id: str) -> JobOut:
        request = _build(JobRef, actor=actor, job_id=job_id)
        return await self._call(JobMethods.CANCEL, request, JobOut)

    async def interrupt_job(self, actor: Principal, job_id: str) -> JobOut:
        request = _build(JobRef, actor=actor, job_id=job_id)
        return await self._call(JobMethods.INTERRUPT, request, JobOut)

    # --- system ----------------------------------------------------------------------------

    async def ping(self, *, timeout_s: float = PING_TIMEOUT_S) -> Pong:
        """Ask the backend whether it answers at all."""
        return await self._call(PING, Ping(), Pong, timeout_s=timeout_s)

    def link_open(self) -> bool:
        """True while the AMQP connection is up (not closed, not reconnecting)."""
        conn = self._connection
        return conn is not None and not conn.is_closed and conn.connected.is_set()

    async def readiness(self) -> dict[str, bool]:
        """Checks for ``/readyz``: the broker link is open and the backend pings back in 2 s."""
        amqp = self.link_open()
        backend = False
        if amqp:
            try:
                await self.ping()
                backend = True
            except ModelportError:
                backend = False
        return {"amqp": amqp, "backend": backend}

    async def _call(
        self, method: str, request: BaseModel, reply: type[R], *, timeout_s: float | None = None
    ) -> R:
        try:
            return await self._rpc.call(self._server, method, request, reply, timeout_s=timeout_s)
        except _LINK_ERRORS as exc:
            raise Unavailable(
                "the platform's backend cannot be reached", code="backend_unavailable"
            ) from exc


def _build(contract: type[Q], **fields: object) -> Q:
    """The request contract; a value it refuses is the caller's mistake (400), not ours."""
    try:
        return contract.model_validate(fields)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc), code="invalid_request") from None
