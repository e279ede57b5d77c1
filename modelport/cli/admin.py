"""``modelport admin …``: the backend's own admin command, run beside a backend.

Acting as the platform itself needs the backend's database, so this is not a broker client:
it runs ``python -m backend_svc admin ARGS`` (same arguments, exit status and output) when
backend_svc is installed here. Elsewhere, an administrator manages users through the portal
with an admin token (``POST /api/v1/users``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import click

NOT_BESIDE_A_BACKEND = (
    "modelport admin runs beside a backend (it needs backend_svc and its database); "
    "elsewhere, manage users through the portal with an admin token (POST /api/v1/users)"
)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def admin(args: tuple[str, ...]) -> None:
    """Administer users on the backend's database (MODELPORT_DATABASE_URL): create-user."""
    if importlib.util.find_spec("backend_svc") is None:
        raise click.ClickException(NOT_BESIDE_A_BACKEND)
    command = [sys.executable, "-m", "backend_svc", "admin", *args]
    sys.exit(subprocess.call(command))
