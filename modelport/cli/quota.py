"""``modelport quota show|set|usage``: quotas of users and groups, and usage (admins)."""

from __future__ import annotations

from typing import Any

import click

from common.contracts.quotas import QUOTAS
from modelport.cli.output import emit_json, table
from modelport.cli.remote import Failed, call
from modelport.client.quotas import Kind, Quotas


@click.group()
def quota() -> None:
    """Quotas per user and group, and usage per user and app (admins)."""


def _target(user: str | None, group: str | None) -> tuple[Kind, str]:
    if (user is None) == (group is None):
        raise Failed("name one of --user or --group")
    return ("user", user) if user is not None else ("group", group or "")


def _show(found: dict[str, Any]) -> None:
    overrides = found.get("overrides", {})
    if found.get("effective"):
        table(found["effective"], [("quota", "quota"), ("limit", "limit"), ("from", "source"),
                                   ("used", "used")], "")
    else:
        rows = [{"quota": q, "value": overrides.get(q)} for q in QUOTAS if overrides.get(q)
                is not None]
        table(rows, [("quota", "quota"), ("override", "value")], "no overrides")


@quota.command("show")
@click.option("--user", help="A user: each quota in force, where it comes from, and its use.")
@click.option("--group", help="A group: its overrides.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def show(user: str | None, group: str | None, as_json: bool) -> None:
    """Show the quotas of --user or --group."""
    kind, name = _target(user, group)
    found = call(lambda portal: Quotas(portal).get(kind, name))
    emit_json(found) if as_json else _show(found)


@quota.command("set")
@click.option("--user", help="Set this user's overrides.")
@click.option("--group", help="Set this group's overrides.")
@click.option("--value", "values", multiple=True, metavar="QUOTA=N",
              help=f"An override to keep, QUOTA one of {', '.join(QUOTAS)}; repeat. Quotas "
              "not named inherit (so no --value clears them all).")
def set_(user: str | None, group: str | None, values: tuple[str, ...]) -> None:
    """Replace the quota overrides of --user or --group."""
    kind, name = _target(user, group)
    parsed: dict[str, int | None] = {}
    for item in values:
        quota_name, _, number = item.partition("=")
        if quota_name not in QUOTAS or not number.isdigit():
            raise Failed(f"--value {item!r}: give QUOTA=N, QUOTA one of {', '.join(QUOTAS)}")
        parsed[quota_name] = int(number)
    _show(call(lambda portal: Quotas(portal).set(kind, name, parsed)))


@quota.command("usage")
@click.option("--from", "start", help="From (ISO 8601 with a time zone) [default: the month's "
              "first day, UTC].")
@click.option("--to", "end", help="To, exclusive [default: now].")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header.")
def usage(start: str | None, end: str | None, as_csv: bool) -> None:
    """Session hours and job CPU seconds per user and app over a period."""
    if as_csv:
        click.echo(call(lambda portal: Quotas(portal).usage_csv(start, end)), nl=False)
        return
    report = call(lambda portal: Quotas(portal).usage(start, end))
    table(report.get("rows", []), [("user", "user"), ("app", "app"),
                                   ("session h", "session_hours"),
                                   ("job CPU s", "job_cpu_seconds"), ("sessions", "sessions"),
                                   ("jobs", "jobs")], "no usage in the period")
