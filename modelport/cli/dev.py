"""``modelport dev up|down``: the whole platform as local processes (see docs/operations.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from modelport.devstack import runner

STATE_DIR = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".state"),
    show_default=True, help="Where pids, logs, S3 data and the cookie secret live.",
)


def _console(*, stderr: bool = False) -> Console:
    """A console that never wraps lines (logs and paths stay greppable) nor guesses colours."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


@click.group()
def dev() -> None:
    """Run the platform locally for development."""


@dev.command()
@STATE_DIR
@click.option("--detach", is_flag=True, help="Return once ready; logs go to <state-dir>/logs.")
@click.option("--port", "portal_port", type=click.IntRange(1, 65535), default=8080,
              show_default=True, envvar="MODELPORT_PORT", help="Portal port.")
@click.option("--free-ports", is_flag=True,
              help="Pick free ports for every service instead of 8080/8091/8092/8093.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds to wait for every service to be ready.")
@click.option("--stop-timeout", "stop_timeout_s", type=click.FloatRange(min=0), default=30.0,
              show_default=True, help="Seconds a service may take to stop before it is killed.")
def up(state_dir: Path, detach: bool, portal_port: int, free_ports: bool, wait_s: float,
       stop_timeout_s: float) -> None:
    """Start backend, session, solve and portal as local processes (plus an embedded S3).

    Prints the portal URL once every service's /readyz answers 200. Uses the machine's
    PostgreSQL and RabbitMQ unless MODELPORT_DATABASE_URL / MODELPORT_AMQP_URL say otherwise;
    starts SeaweedFS unless MODELPORT_S3_ENDPOINT_URL is set; creates the admin named by
    MODELPORT_ADMIN_USER / MODELPORT_ADMIN_PASSWORD.
    """
    opts = runner.UpOptions(state_dir, detach, portal_port, free_ports, wait_s, stop_timeout_s)
    sys.exit(runner.up(opts, _console(), _console(stderr=True)))


@dev.command()
@STATE_DIR
@click.option("--stop-timeout", "stop_timeout_s", type=click.FloatRange(min=0), default=30.0,
              show_default=True, help="Seconds a service may take to stop before it is killed.")
def down(state_dir: Path, stop_timeout_s: float) -> None:
    """Stop the stack that `dev up --detach` started (a no-op when nothing runs)."""
    sys.exit(runner.down(state_dir, _console(stderr=True), timeout_s=stop_timeout_s))
