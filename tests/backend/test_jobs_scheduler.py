"""The scheduler's pure ordering: priority, fair share, age, limits, capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend_svc.scheduler import Candidate, Limits, order, plan

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WIDE = Limits(per_user=100, per_app=100)


def jobs(
    user: str, n: int, *, start: int = 0, priority: int = 0, app: str = "x"
) -> list[Candidate]:
    return [Candidate(id=f"{user}{i}", user=user, app=app, priority=priority,
                      created_at=T0 + timedelta(seconds=start + i)) for i in range(n)]


def test_fair_share_puts_the_lone_job_of_b_in_the_next_free_slot() -> None:
    queued = jobs("A", 50) + jobs("B", 1, start=100)
    chosen = plan(queued, running_by_user={"A": 3}, running_by_app={}, free_slots={"w": 1},
                  limits=WIDE)
    assert [a.job.id for a in chosen] == ["B0"]


def test_order_interleaves_users_then_age() -> None:
    queued = jobs("A", 3) + jobs("B", 2, start=10)
    assert [c.id for c in order(queued, {})] == ["A0", "B0", "A1", "B1", "A2"]


def test_priority_comes_before_fair_share() -> None:
    queued = jobs("A", 2, priority=5) + jobs("B", 1, start=10)
    assert [c.id for c in order(queued, {"A": 9})] == ["A0", "A1", "B0"]


def test_per_user_and_per_app_limits_and_capacity() -> None:
    queued = jobs("A", 5) + jobs("B", 5, start=10, app="y") + jobs("C", 5, start=20, app="y")
    chosen = plan(queued, running_by_user={"A": 1}, running_by_app={"y": 1},
                  free_slots={"w1": 10, "w2": 0}, limits=Limits(per_user=2, per_app=3))
    ids = [a.job.id for a in chosen]
    assert ids.count("A0") == 1 and sum(i.startswith("A") for i in ids) == 1
    assert sum(i[0] in "BC" for i in ids) == 2  # app y: 1 running + 2
    assert {a.worker for a in chosen} == {"w1"}


def test_least_loaded_worker_first() -> None:
    chosen = plan(jobs("A", 3), running_by_user={}, running_by_app={},
                  free_slots={"w1": 1, "w2": 2}, limits=WIDE)
    assert [a.worker for a in chosen] == ["w2", "w1", "w2"] or \
        [a.worker for a in chosen] == ["w2", "w2", "w1"]
    assert sorted(a.worker for a in chosen) == ["w1", "w2", "w2"]


def test_nothing_without_capacity() -> None:
    assert plan(jobs("A", 3), running_by_user={}, running_by_app={}, free_slots={},
                limits=WIDE) == []
