"""``modelport job submit|list|logs|cancel|result``: run solve jobs on the platform.

``submit --watch`` and ``logs -f`` follow the job live over the portal's event stream; both end
when the job does, with exit status 0 when it succeeded and 1 when it failed or was cancelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from modelport.cli.output import (
    console,
    download_option,
    listing,
    note,
    transfer,
    when,
)
from modelport.cli.remote import Failed, call, download
from modelport.client import PortalClient
from modelport.client.jobs import TERMINAL, Jobs, StreamEvent

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
STATES = ("queued", "scheduled", "running", "succeeded", "failed", "cancelled", "lost")


@click.group()
def job() -> None:
    """Solve jobs: a procedure of an app run on a case, queued on the platform."""


@job.command("submit")
@click.argument("app_name", metavar="APP")
@click.option("--version", help="App version [default: the active one].")
@click.option("--procedure", default="solve", show_default=True, help="Procedure to run.")
@click.option("--case", "case_file", type=EXISTING_FILE, help="Case file to upload and run on.")
@click.option("--case-id", help="Id of a case on the platform to run on.")
@click.option("--priority", type=click.IntRange(-10, 10), default=0, show_default=True,
              help="Higher runs first.")
@click.option("--time-limit", type=click.IntRange(min=1), help="Seconds before the job fails.")
@click.option("--watch", is_flag=True, help="Follow the job live until it ends.")
@click.option("--idempotency-key", help="Sent as Idempotency-Key: submitting again with the "
              "same key (and the same job) gives the first job, never a second one "
              "[default: a new key per run, used for this run's retries].")
def submit(app_name: str, version: str | None, procedure: str, case_file: Path | None,
           case_id: str | None, priority: int, time_limit: int | None, watch: bool,
           idempotency_key: str | None) -> None:
    """Queue a job of APP; prints its id on stdout. Without --case/--case-id it runs on the
    app's default data. With --watch, exits 0 when it succeeded, 1 when it failed.
    A submit that could not reach the portal is retried with the same Idempotency-Key, so
    it never queues the job twice."""
    if case_file is not None and case_id is not None:
        raise click.UsageError("give --case or --case-id, not both")
    if case_file is not None:
        case_id = _upload(case_file, app_name)
    fields = {"version": version, "procedure": procedure, "input_case_id": case_id,
              "priority": priority, "time_limit_s": time_limit}
    key = idempotency_key or uuid.uuid4().hex
    queued = call(lambda portal: Jobs(portal).submit(app_name, idempotency_key=key, **fields))
    click.echo(str(queued.get("id")))
    note(f"job queued (position {queued.get('queue_position') or '-'})")
    if watch:
        _finish(_watch(str(queued["id"])))


def _upload(file: Path, app_name: str) -> str:
    with transfer(f"upload {file.name}") as bar:
        stored = call(lambda portal: portal.upload_case(file, app=app_name, name=file.stem,
                                                        progress=bar))
    return str(stored.get("id"))


@job.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only jobs in this state.")
@click.option("--app", "app_name", help="Only jobs of this app.")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_(state: str | None, app_name: str | None, as_json: bool) -> None:
    """List your jobs, newest first (everyone's for an admin)."""
    jobs = call(lambda portal: Jobs(portal).list(state=state, app=app_name))
    listing(jobs, as_json,
            lambda j: {"progress": _percent(j), "queue": j.get("queue_position"),
                       "created": when(j.get("created_at"))},
            [("ID", "id"), ("APP", "app"), ("PROCEDURE", "procedure"), ("STATE", "state"),
             ("QUEUE", "queue"), ("PROGRESS", "progress"), ("REASON", "reason"),
             ("CREATED", "created")], "no jobs")


@job.command("logs")
@click.argument("job_id")
@click.option("-f", "--follow", is_flag=True, help="Stream progress until the job ends.")
def logs(job_id: str, follow: bool) -> None:
    """Print the log of job JOB_ID once it ended; with -f, its progress as it runs first."""
    if not follow:
        click.echo(call(lambda portal: Jobs(portal).log(job_id)), nl=False)
        return

    async def stream(portal: PortalClient) -> str:
        state = ""
        async for event in Jobs(portal).follow(job_id):
            state = _print_event(event) or state
        return state

    _finish(call(stream))


@job.command("cancel")
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel job JOB_ID (a running job is stopped within seconds)."""
    found = call(lambda portal: Jobs(portal).cancel(job_id))
    click.echo(f"{found.get('id')} {found.get('state')}")


@job.command("result")
@click.argument("job_id")
@download_option("Case file")
def result(job_id: str, output: Path) -> None:
    """Download the result case of succeeded job JOB_ID."""
    download(f"result of {job_id}",
             lambda portal, bar: Jobs(portal).download_result(job_id, output, bar), output)


# --- following a job -------------------------------------------------------------------------


def _watch(job_id: str) -> str:
    """Draw a live progress bar until the job ends; its final state."""

    async def watch(portal: PortalClient) -> str:
        state = "queued"
        with _job_bar(job_id) as (bar, task):
            async for event in Jobs(portal).follow(job_id):
                state = _show(bar, task, f"job {escape(job_id[:8])}", event, state)
        return state

    return call(watch)


@contextmanager
def _job_bar(job_id: str) -> Iterator[tuple[Progress, TaskID]]:
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[message]}"), console=console(stderr=True),
    )
    with bar:
        yield bar, bar.add_task(f"job {escape(job_id[:8])} queued", total=1.0, message="")


def _show(bar: Progress, task: TaskID, label: str, event: StreamEvent, state: str) -> str:
    """Move the bar for ``event``; the job's state after it."""
    data = event.data
    state = str(data.get("state") or state)
    changes: dict[str, Any] = {"description": f"{label} {state}"}
    fraction = data.get("fraction", data.get("progress"))
    if isinstance(fraction, int | float):
        changes["completed"] = float(fraction)
    if state == "succeeded":
        changes["completed"] = 1.0
    message = data.get("message") or data.get("progress_message") or data.get("reason")
    if message:
        changes["message"] = escape(str(message))
    if event.name in ("log", "end"):
        return state
    bar.update(task, **changes)
    return state


def _print_event(event: StreamEvent) -> str | None:
    """One line for ``logs -f``; the job's state when the event tells it."""
    data = event.data
    if event.name == "log":
        click.echo(str(data.get("line", "")))
    elif event.name == "progress":
        note(f"{_percent({'progress': data.get('fraction')})} {data.get('message') or ''}".strip())
    elif event.name != "end":
        note(f"state: {data.get('state')}" + (f" ({data['reason']})" if data.get("reason") else ""))
    state = data.get("state")
    return str(state) if isinstance(state, str) else None


def _finish(state: str) -> None:
    """Exit 0 for a succeeded job; :class:`Failed` (exit 1) for any other end."""
    if state == "succeeded":
        note("job succeeded")
        return
    raise Failed(f"job {state}" if state in TERMINAL else f"job ended {state or 'unknown'}")


def _percent(job: dict[str, Any]) -> str | None:
    value = job.get("progress")
    return f"{round(float(value) * 100)}%" if isinstance(value, int | float) else None
