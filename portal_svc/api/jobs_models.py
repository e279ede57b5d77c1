"""Public shapes of solve jobs: what ``/api/v1/jobs`` reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from common.contracts.jobs import JobState
from portal_svc.api.models import ApiModel
from portal_svc.api.registry_models import Reply


class SubmitJobRequest(ApiModel):
    app: str = Field(min_length=1, max_length=100, description="The app to run.")
    version: str | None = Field(None, max_length=100, description="Default: the active one.")
    procedure: str = Field("solve", min_length=1, max_length=100)
    input_case_id: str | None = Field(
        None, max_length=64, description="The case to run on; default: the app's default data."
    )
    priority: int = Field(0, ge=-10, le=10, description="Higher runs first.")
    time_limit_s: int | None = Field(None, ge=1, le=7 * 24 * 3600)
    memory_mb: int | None = Field(None, ge=64, le=256 * 1024)
    not_before: datetime | None = Field(None, description="Wait in the queue until then.")
    options: dict[str, Any] = Field(default_factory=dict, description="Passed to the procedure.")


class ListJobsQuery(ApiModel):
    state: JobState | None = Field(None, description="Only jobs in this state.")
    app: str | None = Field(None, max_length=100, description="Only jobs of this app.")
    user: str | None = Field(None, max_length=100, description="Only this user's (admins).")
    limit: int = Field(50, ge=1, le=500, description="Jobs per page.")
    offset: int = Field(0, ge=0, description="Jobs to skip.")


class LogQuery(ApiModel):
    follow: bool = Field(False, description="Stream live progress as text/event-stream.")


class Job(Reply):
    id: str
    user: str
    app: str
    app_version: str
    procedure: str
    state: JobState
    reason: str | None
    priority: int
    attempt: int
    max_attempts: int
    time_limit_s: int | None
    memory_mb: int | None
    not_before: datetime | None
    input_case_id: str | None
    output_case_id: str | None
    progress: float | None
    progress_message: str | None
    interrupted: bool
    queue_position: int | None = Field(description="Among queued jobs, 1 = next.")
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(Reply):
    jobs: list[Job]
    total: int
