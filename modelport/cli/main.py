"""``modelport``: the root command group."""

from __future__ import annotations

import click

from modelport.cli.admin import admin
from modelport.cli.dev import dev
from modelport.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelport")
def cli() -> None:
    """Modelport: run, administer and develop the platform."""


cli.add_command(serve)
cli.add_command(admin)
cli.add_command(dev)
