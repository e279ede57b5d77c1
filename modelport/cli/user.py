"""``modelport user role``: set a user's role through the portal (admins)."""

from __future__ import annotations

import click

from common.contracts.base import ROLES
from modelport.cli.remote import call


@click.group()
def user() -> None:
    """Users of the platform (admins)."""


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def role(username: str, role: str) -> None:
    """Give USERNAME the ROLE: admin, publisher (may create apps and publish those they have
    publish rights on) or user."""
    found = call(lambda portal: portal.set_role(username, role))
    click.echo(f"{found.get('username', username)}: {found.get('role', role)}")
