"""Pure logic of worker identity: container names parsed back, the OWNER label, and which
listed containers a solve worker counts as another worker's (no engine needed)."""

from __future__ import annotations

from typing import Any

from common.contracts.jobs import ForeignContainer
from common.docker.spec import KIND, OWNER, ContainerRequest, labels_for, parse_container_name
from solve_svc.reclaim import _foreign, owner_of

JOB = "2f1c9a3e-8d7b-4c55-9f0e-0123456789ab"


def test_names_parse_back_to_kind_id_attempt() -> None:
    assert parse_container_name(f"mp-job-{JOB}-3") == ("job", JOB, 3)
    assert parse_container_name("/mp-warm-abc123-0") == ("warm", "abc123", 0)
    for name in ("mp-job-", "other", f"mp-job-{JOB}", "mp-batch-x-1", f"mp-job-{JOB}-x"):
        assert parse_container_name(name) is None, name


def test_owner_label_only_when_given() -> None:
    request = ContainerRequest("svc", "job", JOB, 1, "1.0", "img", ["true"])
    assert OWNER not in labels_for(request)
    owned = ContainerRequest("svc", "job", JOB, 1, "1.0", "img", ["true"], owner="solve/a")
    assert labels_for(owned)[OWNER] == "solve/a"


def _item(name: str, owner: str | None, kind: str = "job") -> dict[str, Any]:
    labels = {KIND: kind} | ({} if owner is None else {OWNER: owner})
    return {"Names": [f"/{name}"], "Labels": labels}


def test_foreign_are_other_solve_workers_job_and_idle_warm_containers() -> None:
    me = owner_of("me")
    job = f"mp-job-{JOB}-2"
    assert _foreign(_item(job, me), me) is None  # mine
    assert _foreign(_item(job, "session/x"), me) is None  # another service's
    assert _foreign(_item("mp-session-s1-1", None, "session"), me) is None
    assert _foreign(_item("mp-warm-abc-0", None, "warm"), me) is None  # unowned idle: unknown
    assert _foreign(_item(job, owner_of("b")), me) == ForeignContainer(
        name=job, owner_worker="b", job_id=JOB, attempt=2)
    # a warm container taken for a job keeps kind=warm; its name says whose job it runs
    assert _foreign(_item(job, owner_of("b"), "warm"), me) == ForeignContainer(
        name=job, owner_worker="b", job_id=JOB, attempt=2)
    assert _foreign(_item(job, None), me) == ForeignContainer(
        name=job, owner_worker="", job_id=JOB, attempt=2)  # made before owner labels
    assert _foreign(_item("mp-warm-abc-0", owner_of("b"), "warm"), me) == ForeignContainer(
        name="mp-warm-abc-0", owner_worker="b")
