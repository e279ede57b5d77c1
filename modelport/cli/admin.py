"""``modelport admin …``: platform administration.

``admin host list|drain|return`` asks the signed-in portal (an admin's token). ``admin
create-user`` acts as the platform itself, which needs the backend's database, so it is not a
broker or portal client: it runs ``python -m backend_svc admin create-user ARGS`` (same
arguments, exit status and output) when backend_svc is installed here. Elsewhere, an
administrator manages users through the portal (``POST /api/v1/users``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import click

from modelport.cli.output import emit_json, table, when
from modelport.cli.remote import call

NOT_BESIDE_A_BACKEND = (
    "modelport admin create-user runs beside a backend (it needs backend_svc and its "
    "database); elsewhere, manage users through the portal with an admin token "
    "(POST /api/v1/users)"
)
HOST_COLUMNS = [("HOST", "name"), ("ZONE", "zone"), ("STATE", "state"), ("SLOTS", "slots"),
                ("MEMORY MB", "memory"), ("WORKERS", "workers"), ("DRAINED BY", "by"),
                ("REPORTED", "reported")]


@click.group()
def admin() -> None:
    """Administer the platform: Docker hosts (through the portal), users (beside a backend)."""


@admin.command("create-user", context_settings={
    "ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def create_user(args: tuple[str, ...]) -> None:
    """Create a user on the backend's database (MODELPORT_DATABASE_URL)."""
    if importlib.util.find_spec("backend_svc") is None:
        raise click.ClickException(NOT_BESIDE_A_BACKEND)
    command = [sys.executable, "-m", "backend_svc", "admin", "create-user", *args]
    sys.exit(subprocess.call(command))


@admin.group()
def host() -> None:
    """Docker hosts: their load, drain (no new work; running work finishes) and return."""


def _row(h: dict[str, Any]) -> dict[str, Any]:
    state = "drained" if h.get("drained") else ("healthy" if h.get("healthy") else "down")
    return {"name": h.get("name"), "zone": h.get("zone") or "-", "state": state,
            "slots": f"{h.get('used_slots')}/{h.get('slots')}",
            "memory": f"{h.get('used_memory_mb')}/{h.get('memory_mb')}",
            "workers": ", ".join(h.get("workers") or []) or "-",
            "by": h.get("drained_by") or "-", "reported": when(h.get("reported_at"))}


@host.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_hosts(as_json: bool) -> None:
    """Every host a worker reported, with its load (as its workers last saw it)."""
    hosts = call(lambda c: c.list_hosts())
    if as_json:
        emit_json(hosts)
        return
    table([_row(h) for h in hosts], HOST_COLUMNS, "no Docker hosts reported yet")


@host.command("drain")
@click.argument("name")
def drain(name: str) -> None:
    """Place no new work on host NAME; what runs there finishes. Every worker on it learns
    this at its next heartbeat (seconds)."""
    call(lambda c: c.drain_host(name))
    click.echo(f"drained {name}: no new work goes there; running work finishes")


@host.command("return")
@click.argument("name")
def return_(name: str) -> None:
    """Put the drained host NAME back in service."""
    call(lambda c: c.return_host(name))
    click.echo(f"returned {name}: it takes new work again")
