"""The sleeper example: interruptible sleep, memory allocation, and an app failure."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from modelport.appkit import LoadedApp, Progress, run


def test_sleep_runs_to_the_end_with_progress(sleeper: LoadedApp) -> None:
    reports: list[Progress] = []
    result = run(sleeper.app, "sleep", {"seconds": 0.2, "step_s": 0.05},
                 on_progress=reports.append)
    assert result["status"] == "done" and result["slept_s"] >= 0.2
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 3


def test_sleep_stops_at_a_deadline(sleeper: LoadedApp) -> None:
    deadline = time.monotonic() + 0.3
    result = run(sleeper.app, "sleep", {"seconds": 60},
                 should_stop=lambda: time.monotonic() > deadline)
    assert result["status"] == "interrupted"
    assert 0.3 <= result["slept_s"] < 5


def test_nap_is_a_session_procedure(sleeper: LoadedApp) -> None:
    assert sleeper.app.get_procedure("nap").kind == "session"
    assert run(sleeper.app, "nap", {"seconds": 0})["status"] == "done"


def test_allocate_holds_the_memory(sleeper: LoadedApp) -> None:
    result = run(sleeper.app, "allocate", {"megabytes": 20, "hold_s": 0})
    assert result == {"allocated_mb": 20, "status": "done"}


def test_scribble_writes_and_removes_its_scratch_file(
    sleeper: LoadedApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    reports: list[Progress] = []
    result = run(sleeper.app, "scribble", {"megabytes": 20}, on_progress=reports.append)
    assert result == {"status": "done"} and list(tmp_path.iterdir()) == []
    assert any("wrote 16 MB" in r.message for r in reports)


def test_fail_raises_the_app_error(sleeper: LoadedApp) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run(sleeper.app, "fail", {"message": "boom"})
