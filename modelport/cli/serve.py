"""``modelport serve SERVICE``: run one service in this process, exactly like ``python -m``."""

from __future__ import annotations

import runpy

import click

MODULES = {
    "portal": "portal_svc",
    "backend": "backend_svc",
    "session": "session_svc",
    "solve": "solve_svc",
}


@click.command()
@click.argument("service", type=click.Choice(sorted(MODULES)))
def serve(service: str) -> None:
    """Run SERVICE until SIGTERM/SIGINT; settings come from MODELPORT_* variables.

    The exit status is the service's: 0 after a clean stop, 1 when start-up or stop failed.
    """
    runpy.run_module(MODULES[service], run_name="__main__", alter_sys=True)
