"""The facility-location MIP: progress in order, and interruption that keeps a solution."""

from __future__ import annotations

import time
from typing import Any

import pytest

from modelport.appkit import LoadedApp, Progress, run

pytestmark = pytest.mark.timeout(60)


def assert_in_order(reports: list[Progress]) -> None:
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions)
    elapsed = [r.elapsed_s for r in reports]
    assert elapsed == sorted(elapsed)
    incumbents = [r.incumbent for r in reports if r.incumbent is not None]
    assert incumbents == sorted(incumbents, reverse=True), "minimisation: never worse"


def assert_feasible(data: dict[str, Any], result: dict[str, Any]) -> None:
    served, opened = result["served"], result["is_open"]
    for customer in data["customers"]:
        share = sum(v for (_, c), v in served.items() if c == customer)
        assert share == pytest.approx(1.0, abs=1e-6), customer
    for facility in data["facilities"]:
        load = sum(v * data["demand"][c] for (f, c), v in served.items() if f == facility)
        assert load <= data["capacity"][facility] * opened[facility] + 1e-5, facility


def test_generate_is_seeded(facility: LoadedApp) -> None:
    first = run(facility.app, "generate", {"n_facilities": 5, "n_customers": 9, "seed": 4})
    again = run(facility.app, "generate", {"n_facilities": 5, "n_customers": 9, "seed": 4})
    assert first == again
    assert len(first["facilities"]) == 5 and len(first["customers"]) == 9


def test_small_instance_solves_to_optimality_with_progress_in_order(
    facility: LoadedApp,
) -> None:
    data = run(facility.app, "generate", {"n_facilities": 15, "n_customers": 60, "seed": 3})
    reports: list[Progress] = []
    result = run(facility.app, "solve", data, on_progress=reports.append, on_log=lambda _: None)
    assert result["status"] == "optimal"
    assert_in_order(reports)
    assert reports[-1].fraction == 1.0
    assert any(r.incumbent is not None for r in reports[:-1]), "incumbents reported on the way"
    assert result["total_cost"] >= result["best_bound"] - 1e-6
    assert result["total_cost"] <= result["best_bound"] * (1 + 2e-4)
    assert_feasible(data, result)


def test_default_instance_is_interrupted_and_keeps_its_best_solution(
    facility: LoadedApp,
) -> None:
    """Ask to stop after a 1 s deadline once a solution is known (the full solve takes
    several seconds); a 15 s deadline stops it regardless."""
    reports: list[Progress] = []
    soft, hard = time.monotonic() + 1.0, time.monotonic() + 15.0

    def should_stop() -> bool:
        now = time.monotonic()
        found = any(r.incumbent is not None for r in reports)
        return (found and now > soft) or now > hard

    started = time.monotonic()
    result = run(facility.app, "solve", on_progress=reports.append, should_stop=should_stop,
                 on_log=lambda _: None)
    assert result["status"] == "interrupted"
    assert time.monotonic() - started < 15.0
    assert_in_order(reports)
    assert reports[-1].message == "interrupted"
    assert result["total_cost"] == pytest.approx(reports[-1].incumbent)
    assert result["total_cost"] >= result["best_bound"]
    assert_feasible(facility.app.default_data(), result)


def test_default_instance_is_large_enough(facility: LoadedApp) -> None:
    data = facility.app.default_data()
    assert len(data["facilities"]) * len(data["customers"]) >= 10_000
