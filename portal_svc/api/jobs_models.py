"""Public shapes of solve jobs: what ``/api/v1/jobs`` reads and writes, derived from the
job contracts (:mod:`portal_svc.api.public`)."""

from __future__ import annotations

from pydantic import Field

from common.contracts.jobs import JobList, JobOut, ListJobs, SubmitJob
from portal_svc.api.models import ApiModel, Reply
from portal_svc.api.public import public

# the idempotency key travels in the Idempotency-Key header, not the body
SubmitJobRequest = public(SubmitJob, ApiModel, name="SubmitJobRequest", drop=("idempotency_key",))
ListJobsQuery = public(ListJobs, ApiModel, name="ListJobsQuery")
Job = public(JobOut, Reply)
JobPage = public(JobList, Reply, name="JobPage")


class LogQuery(ApiModel):
    follow: bool = Field(False, description="Stream live progress as text/event-stream.")
