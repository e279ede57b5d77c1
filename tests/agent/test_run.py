"""The agent run as ``python -m modelport.agent`` on the host: results, lineage, progress,
interruption, failures and the app's own stdout."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from modelport.agent import (
    EXIT_APP_EXCEPTION,
    EXIT_INTERNAL,
    EXIT_INVALID,
    LogEvent,
    ProgressEvent,
)
from modelport.agent.lineage import file_sha256
from modelport.appkit import LoadedApp, case_identifiers, load_app, run, save_case
from modelport.case import read_case, write_case
from tests.agent.support import EXAMPLES, RUNTIME_VERSION, LiveAgent, agent_command, run_agent

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def transport() -> LoadedApp:
    return load_app(EXAMPLES / "transport")


@pytest.fixture(scope="module")
def facility() -> LoadedApp:
    return load_app(EXAMPLES / "facility-location")


def test_transport_writes_the_result_case_with_its_lineage(
    transport: LoadedApp, tmp_path: Path
) -> None:
    source = tmp_path / "in.mpcase"
    save_case(transport.app, source, {**transport.app.default_data(), "freight": 90})
    output = tmp_path / "out.mpcase"
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "solve",
                     "--input", source, "--output", output, "--options", '{"priority": 3}')
    assert done.returncode == 0, done.stderr
    assert [e.type for e in done.events][0] == "started"
    assert done.result.path == str(output) and not done.result.interrupted
    assert done.result.sha256 == file_sha256(output)
    case = read_case(output)
    assert case.values("total_cost") == pytest.approx(153.675)
    assert case.values("capacity") == {"seattle": 350, "san-diego": 600}
    lineage = case.metadata["lineage"]
    assert lineage["app"] == {"name": "transport", "version": "1.0.0"}
    assert lineage["procedure"] == "solve" and lineage["options"] == {"priority": 3}
    assert lineage["input"] == {"sha256": file_sha256(source), "source": "case"}
    assert lineage["runtime"]["version"] == RUNTIME_VERSION
    assert lineage["started_at"] <= lineage["finished_at"]
    assert lineage["interrupted"] is False
    assert not list(tmp_path.glob("*.partial"))


def test_without_an_input_case_the_defaults_are_used(tmp_path: Path) -> None:
    output = tmp_path / "out.mpcase"
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "solve",
                     "--output", output)
    assert done.returncode == 0, done.stderr
    case = read_case(output)
    assert case.values("total_cost") == pytest.approx(153.675)
    assert case.metadata["lineage"]["input"] == {"sha256": None, "source": "defaults"}


def assert_progress_in_order(events: list[ProgressEvent]) -> None:
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)
    assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)
    incumbents = [e.incumbent for e in events if e.incumbent is not None]
    assert incumbents == sorted(incumbents, reverse=True)


def test_facility_location_reports_progress_in_order(
    facility: LoadedApp, tmp_path: Path
) -> None:
    data = run(facility.app, "generate", {"n_facilities": 15, "n_customers": 60, "seed": 3})
    source = tmp_path / "in.mpcase"
    save_case(facility.app, source, data)
    done = run_agent("--app", EXAMPLES / "facility-location", "--procedure", "solve",
                     "--input", source, "--output", tmp_path / "out.mpcase")
    assert done.returncode == 0, done.stderr
    progress = done.of("progress")
    assert len(progress) >= 2
    assert_progress_in_order(progress)
    assert progress[-1].fraction == 1.0 and progress[-1].message == "optimal"
    assert done.events.index(progress[-1]) < len(done.events) - 1  # before the result


def test_progress_is_rate_limited_but_keeps_the_last_report(tmp_path: Path) -> None:
    """100 reports in about a second come out as at most ~5 per second, ending at 1.0."""
    sleeper = load_app(EXAMPLES / "sleeper")
    source = tmp_path / "in.mpcase"
    save_case(sleeper.app, source, {"seconds": 1.0, "step_s": 0.01})
    done = run_agent("--app", EXAMPLES / "sleeper", "--procedure", "sleep",
                     "--input", source, "--output", tmp_path / "out.mpcase")
    assert done.returncode == 0, done.stderr
    progress = done.of("progress")
    assert 2 <= len(progress) <= 5 * 1.5 + 2
    assert_progress_in_order(progress)
    assert (progress[-1].fraction, progress[-1].message) == (1.0, "done")


def assert_feasible(case_data: dict[str, Any]) -> None:
    served, opened = case_data["served"], case_data["is_open"]
    for customer in case_data["customers"]:
        share = sum(v for (_, c), v in served.items() if c == customer)
        assert share == pytest.approx(1.0, abs=1e-6), customer
    for facility in case_data["facilities"]:
        load = sum(v * case_data["demand"][c] for (f, c), v in served.items() if f == facility)
        assert load <= case_data["capacity"][facility] * opened[facility] + 1e-5, facility


def test_sigusr1_interrupts_and_keeps_a_feasible_solution(tmp_path: Path) -> None:
    output = tmp_path / "out.mpcase"
    agent = LiveAgent(agent_command("--app", EXAMPLES / "facility-location",
                                    "--procedure", "solve", "--output", output))
    try:
        agent.wait_for(lambda e: isinstance(e, ProgressEvent) and e.incumbent is not None,
                       timeout_s=60)
        agent.interrupt()
        done = agent.finish(timeout_s=30)
    finally:
        agent.proc.kill()
    assert done.returncode == 0, done.stderr
    assert done.result.interrupted is True
    assert_progress_in_order(done.of("progress"))
    case = read_case(output)
    assert case.values("status") == "interrupted"
    assert case.metadata["lineage"]["interrupted"] is True
    assert case.values("total_cost") >= case.values("best_bound")
    assert_feasible(case.data())


def test_an_app_exception_ends_with_its_traceback_and_exit_3(tmp_path: Path) -> None:
    output = tmp_path / "out.mpcase"
    done = run_agent("--app", EXAMPLES / "sleeper", "--procedure", "fail", "--output", output)
    assert done.returncode == EXIT_APP_EXCEPTION
    error = done.error
    assert error.reason == "app_exception"
    assert error.message == "RuntimeError: sleeper was asked to fail"
    assert error.traceback and 'raise RuntimeError(ctx["message"])' in error.traceback
    logged = "\n".join(e.line for e in done.of("log") if e.source == "agent")
    assert "RuntimeError: sleeper was asked to fail" in logged
    assert not output.exists()


def test_an_invalid_input_case_exits_2_naming_identifier_and_element(
    transport: LoadedApp, tmp_path: Path
) -> None:
    data = {**transport.app.default_data(), "demand": {"new-york": -3.0, "chicago": 300.0,
                                                         "topeka": 275.0}}
    source = tmp_path / "bad.mpcase"
    write_case(source, "transport", "1.0.0", data, identifiers=case_identifiers(transport.app))
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "solve",
                     "--input", source, "--output", tmp_path / "out.mpcase")
    assert done.returncode == EXIT_INVALID
    error = done.error
    assert error.reason == "invalid_data"
    assert "demand['new-york']" in error.message
    assert [(i.identifier, i.element) for i in error.issues] == [("demand", ["new-york"])]
    assert not (tmp_path / "out.mpcase").exists()


def test_a_case_that_is_not_a_case_is_invalid_data(tmp_path: Path) -> None:
    source = tmp_path / "junk.mpcase"
    source.write_bytes(b"not a zip")
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "solve",
                     "--input", source, "--output", tmp_path / "out.mpcase")
    assert (done.returncode, done.error.reason) == (EXIT_INVALID, "invalid_data")
    assert "not_a_case" in done.error.message


def test_unknown_procedure_and_bad_app_exit_2(tmp_path: Path) -> None:
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "nope",
                     "--output", tmp_path / "out.mpcase")
    assert (done.returncode, done.error.reason) == (EXIT_INVALID, "unknown_procedure")
    assert "nope" in done.error.message and "solve" in done.error.message
    done = run_agent("--app", tmp_path, "--procedure", "solve", "--output", tmp_path / "o")
    assert (done.returncode, done.error.reason) == (EXIT_INVALID, "bad_app")
    assert [e.type for e in done.events] == ["error"]


NOISY_APP = '''
import os
import sys

from modelport.appkit import App

print("printed at import")
app = App(name="noisy", title="Noisy")
total = app.result("total")


@app.procedure(kind="solve")
def solve(ctx):
    print('{"v":1,"type":"result","path":"/fake","sha256":"x","size":1,"interrupted":true}')
    print("no newline", end="")
    sys.stdout.flush()
    os.write(1, b"\\nwritten to fd 1\\n")
    print("to stderr", file=sys.stderr)
    ctx.log("through ctx.log")
    print("last words", end="")
    return {"total": 1.0}
'''


def test_the_apps_own_stdout_does_not_break_the_protocol(tmp_path: Path) -> None:
    app_dir = tmp_path / "noisy"
    app_dir.mkdir()
    (app_dir / "app.toml").write_text(textwrap.dedent('''\
        name = "noisy"
        version = "0.1.0"
        title = "Noisy"
        runtime = ">=0.1"
        entry = "app:app"
    '''))
    (app_dir / "app.py").write_text(NOISY_APP)
    done = run_agent("--app", app_dir, "--procedure", "solve", "--output", tmp_path / "o.mpcase")
    assert done.returncode == 0, done.stderr
    assert all(not (isinstance(e, LogEvent) and e.source == "raw") for e in done.events)
    assert len(done.of("result")) == 1 and done.result.path == str(tmp_path / "o.mpcase")
    captured = [e.line for e in done.of("log") if e.source == "stdout"]
    assert captured == [
        "printed at import",
        '{"v":1,"type":"result","path":"/fake","sha256":"x","size":1,"interrupted":true}',
        "no newline", "written to fd 1", "last words",
    ]
    assert [e.line for e in done.of("log") if e.source == "app"] == ["through ctx.log"]
    assert "to stderr" in done.stderr


def test_an_unwritable_output_is_an_internal_error_exit_4(tmp_path: Path) -> None:
    output = tmp_path / "missing-dir" / "out.mpcase"
    done = run_agent("--app", EXAMPLES / "transport", "--procedure", "solve", "--output", output)
    assert (done.returncode, done.error.reason) == (EXIT_INTERNAL, "internal")
    assert "writing the result case failed" in done.error.message


def test_checkpoints_are_sent_and_a_start_solution_is_resumed_from(
    facility: LoadedApp, tmp_path: Path
) -> None:
    data = run(facility.app, "generate", {"n_facilities": 15, "n_customers": 60, "seed": 3})
    source = tmp_path / "in.mpcase"
    save_case(facility.app, source, data)
    args = ("--app", EXAMPLES / "facility-location", "--procedure", "solve", "--input", source)
    first = run_agent(*args, "--output", tmp_path / "one.mpcase")
    assert first.returncode == 0, first.stderr
    checkpoints = first.of("checkpoint")
    assert checkpoints, [e.type for e in first.events]
    assert checkpoints[0].values["shape"] == [15, 60]
    objectives = [c.values["objective"] for c in checkpoints]
    assert objectives == sorted(objectives, reverse=True)  # each improves on the one before
    optimum = read_case(tmp_path / "one.mpcase").values("total_cost")
    assert objectives[-1] == pytest.approx(optimum)

    start = tmp_path / "start.json"
    start.write_text(json.dumps(checkpoints[0].values))
    resumed = run_agent(*args, "--output", tmp_path / "two.mpcase", "--start", start)
    assert resumed.returncode == 0, resumed.stderr
    lines = [(e.source, e.line) for e in resumed.of("log")]
    assert ("agent", "starting from the checkpoint of an earlier attempt (4 values)") in lines
    incumbent = f"started from the checkpoint: incumbent {objectives[0]:.2f}"
    assert any(source == "app" and line.startswith(incumbent) for source, line in lines), lines
    assert read_case(tmp_path / "two.mpcase").values("total_cost") == pytest.approx(optimum)

    start.write_text("not json")
    broken = run_agent(*args, "--output", tmp_path / "three.mpcase", "--start", start)
    assert broken.returncode == 0, broken.stderr
    assert any("starting from scratch" in e.line for e in broken.of("log"))


def test_a_checkpoint_must_be_small_json(facility: LoadedApp) -> None:
    from modelport.appkit import Context

    seen: list[dict[str, Any]] = []
    ctx = Context("solve", {}, facility.app.identifiers, on_checkpoint=seen.append)
    ctx.checkpoint({"x": [1, 2]})
    with pytest.raises(ValueError, match="JSON"):
        ctx.checkpoint({"x": object()})
    with pytest.raises(ValueError, match="at most"):
        ctx.checkpoint({"x": "y" * (600 * 1024)})
    assert seen == [{"x": [1, 2]}]
