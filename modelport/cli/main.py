"""``modelport``: the root command group."""

from __future__ import annotations

import click

from modelport.cli.admin import admin
from modelport.cli.app import app
from modelport.cli.auth import login, logout
from modelport.cli.case import case
from modelport.cli.desktop import desktop
from modelport.cli.dev import dev
from modelport.cli.job import job
from modelport.cli.keys import keys
from modelport.cli.quota import quota
from modelport.cli.runtime import runtime
from modelport.cli.serve import serve
from modelport.cli.token import token
from modelport.cli.user import user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelport")
def cli() -> None:
    """Modelport: publish runtimes and apps, move cases, run and develop the platform."""


cli.add_command(serve)
cli.add_command(admin)
cli.add_command(dev)
cli.add_command(login)
cli.add_command(logout)
cli.add_command(keys)
cli.add_command(runtime)
cli.add_command(app)
cli.add_command(case)
cli.add_command(job)
cli.add_command(token)
cli.add_command(desktop)
cli.add_command(quota)
cli.add_command(user)
