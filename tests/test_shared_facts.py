"""Facts two services must agree on come from one place: if they could differ, these fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend_svc.handlers.jobs import _authorize
from backend_svc.jobs import FoundJob
from backend_svc.policy import Action
from backend_svc.settings import BackendSettings
from common.contracts.base import Principal
from common.contracts.jobs import (
    TERMINAL_STATES,
    FailReason,
    JobEvent,
    JobOut,
    JobState,
    attempt_key,
)
from common.contracts.users import UserOut
from common.errors import NotFound
from common.settings import JobDefaults
from modelport.agent.protocol import SERVE_PROTOCOL, SERVE_PROTOCOL_LABEL, ErrorReason
from modelport.client.jobs import TERMINAL
from portal_svc.api.jobs_models import Job
from portal_svc.auth import Caller
from portal_svc.live.jobs import LiveEvent, visible_to
from solve_svc.settings import SolveSettings

OWNER = Principal(user_id="u-olga", username="olga")
OTHER = Principal(user_id="u-stan", username="stan")
ADMIN = Principal(user_id="u-root", username="root", is_admin=True)
NOBODY = Principal(user_id=None, username="olga")  # a name without a signed-in user


def _job(**extra: object) -> JobOut:
    fields: dict[str, object] = dict(
        id="j1", user="olga", app="transport", app_version="1.0.0", procedure="solve",
        state="succeeded", reason=None, priority=0, attempt=2, max_attempts=3,
        time_limit_s=None, memory_mb=None, not_before=None, input_case_id=None,
        output_case_id=None, progress=None, progress_message=None, interrupted=False,
        queue_position=None, worker=None, created_at="2026-01-01T00:00:00Z", started_at=None,
        finished_at=None)
    return JobOut.model_validate(fields | extra)


def test_attempt_keys_are_per_attempt_and_stay_internal() -> None:
    assert attempt_key("j1", 1, "log") == "jobs/j1/attempts/1/log"
    assert len({attempt_key("j1", n, f) for n in (1, 2) for f in ("log", "result")}) == 4
    job = _job(log_s3_key=attempt_key("j1", 2, "log"))
    assert "log_s3_key" not in Job.model_fields
    assert "log_s3_key" not in Job.of(job).model_dump()


def test_warm_pool_memory_has_one_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    for settings in (BackendSettings, SolveSettings):
        assert issubclass(settings, JobDefaults)
        assert "default_memory_mb" not in vars(settings).get("__annotations__", {})
    monkeypatch.setenv("MODELPORT_DEFAULT_MEMORY_MB", "1536")
    backend = BackendSettings(database_url="postgresql://unused/x")
    assert backend.default_memory_mb == SolveSettings().default_memory_mb == 1536


def _caller(p: Principal) -> Caller:
    user = UserOut(id=p.user_id or "", username=p.username, display_name="",
                   is_admin=p.is_admin, created_at="2026-01-01T00:00:00Z")
    return Caller(user=user, token="t")


def _backend_shows(viewer: Principal) -> bool:
    try:
        _authorize(viewer, Action.JOB_READ, FoundJob(job=_job(), user_id=OWNER.user_id or ""))
    except NotFound:
        return False
    return True


@pytest.mark.parametrize("viewer", [OWNER, OTHER, ADMIN])
def test_portal_events_follow_the_backend_visibility_rule(viewer: Principal) -> None:
    data = JobEvent(job_id="j1", user="olga", app="transport", attempt=1, state="running")
    event = LiveEvent("e1", JobEvent.STARTED, data)
    assert visible_to(_caller(viewer))(event) == _backend_shows(viewer)
    assert _backend_shows(viewer) == (viewer is not OTHER)


def test_system_sees_and_a_bare_name_does_not() -> None:
    assert _backend_shows(Principal.SYSTEM) and not _backend_shows(NOBODY)


def test_terminal_states_come_from_the_contract() -> None:
    assert TERMINAL is TERMINAL_STATES
    assert TERMINAL_STATES <= set(JobState.__args__)  # type: ignore[attr-defined]


def test_the_runtime_image_labels_the_serve_protocol_its_agent_speaks() -> None:
    """The worker picks inputs on stdin or the archive API by this label (docs/agent.md)."""
    dockerfile = (Path(__file__).resolve().parents[1] / "deploy/runtime/Dockerfile").read_text()
    labels = dict(re.findall(r'([\w.]+)="([^"]*)"', dockerfile.split("LABEL", 1)[1]))
    assert labels[SERVE_PROTOCOL_LABEL] == str(SERVE_PROTOCOL)


def test_every_agent_error_reason_is_a_job_failure_reason() -> None:
    assert set(ErrorReason.__args__) <= set(FailReason.__args__)  # type: ignore[attr-defined]
