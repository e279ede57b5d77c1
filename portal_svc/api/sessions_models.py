"""Public shapes of data sessions: what ``/api/v1/sessions`` reads and writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from common.contracts.base import MAX_OFFSET
from common.contracts.sessions import RESTART_REASONS, SessionOut, SessionState
from portal_svc.api.models import ApiModel
from portal_svc.api.registry_models import Reply


class CreateSessionRequest(ApiModel):
    app: str = Field(min_length=1, max_length=100, description="The app to open.")
    version: str | None = Field(None, max_length=100, description="Default: the active one.")
    case_id: str | None = Field(
        None, max_length=64, description="A case of the app to open; default: its default data."
    )


class ListSessionsQuery(ApiModel):
    live: bool = Field(False, description="Only sessions that are not over.")
    user: str | None = Field(None, max_length=100, description="Only this user's (admins).")
    limit: int = Field(50, ge=1, le=500, description="Sessions per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Sessions to skip.")


class Session(Reply):
    id: str
    user: str
    app: str
    app_version: str
    state: SessionState
    reason: str | None = Field(description="Why it failed, was lost or stopped.")
    message: str | None = Field(description="What went wrong, in a sentence.")
    url: str = Field(description="Where the session's pages are (the portal's proxy).")
    case_id: str | None = Field(description="The case it was opened from.")
    autosave_case_id: str | None = Field(description="Its autosave case: open it to resume.")
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    last_activity_at: datetime | None
    idle_s: float | None = Field(description="Seconds since its pages were last used.")

    @property
    def restarted(self) -> bool:
        """It runs again (or is about to) from its autosave after its host or worker failed:
        its page shows ``message``."""
        return self.reason in RESTART_REASONS and self.state in ("requested", "starting",
                                                                  "ready")

    @classmethod
    def of(cls, contract: Any) -> Session:
        session: SessionOut = contract
        idle = None
        if session.last_activity_at is not None and session.state == "ready":
            idle = max((datetime.now(UTC) - session.last_activity_at).total_seconds(), 0.0)
        fields = session.model_dump(exclude={"v", "worker", "host", "endpoint", "attempt"})
        return cls(**fields, url=f"/s/{session.id}/", idle_s=idle)


class SessionPage(Reply):
    sessions: list[Session]
    total: int

    @classmethod
    def of(cls, contract: Any) -> SessionPage:
        return cls(sessions=[Session.of(s) for s in contract.sessions], total=contract.total)
