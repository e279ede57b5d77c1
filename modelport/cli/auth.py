"""``modelport login`` and ``modelport logout``: keep a portal URL and API token for later calls."""

from __future__ import annotations

import asyncio
import os

import click

from modelport.cli.output import note
from modelport.cli.remote import call
from modelport.client import ClientError, PortalClient
from modelport.client import credentials as creds
from modelport.client.credentials import Credentials

PASSWORD_ENV = "MODELPORT_PASSWORD"


@click.command()
@click.option("--url", help="Portal URL [default: MODELPORT_URL, the stored URL, or "
              f"{creds.DEFAULT_URL}].")
@click.option("-u", "--username", help="User to sign in as (prompted when absent).")
def login(url: str | None, username: str | None) -> None:
    """Sign in and store the portal URL and an API token in the credentials file.

    The password comes from MODELPORT_PASSWORD or a hidden prompt. The file is
    <config dir>/credentials.json, mode 0600 (config dir: MODELPORT_CONFIG_DIR or
    ~/.config/modelport). Exit status 3 when the portal refuses the password.
    """
    previous = creds.current()
    url = (url or previous.url).rstrip("/")
    username = username or click.prompt("Username", default=previous.username or None)
    password = os.environ.get(PASSWORD_ENV) or click.prompt("Password", hide_input=True)
    issued = call(lambda portal: portal.login(username, password), Credentials(url))
    name = str(issued.get("user", {}).get("username", username))
    path = creds.save(Credentials(url, str(issued["token"]), name))
    click.echo(f"signed in to {url} as {name}")
    note(f"credentials stored in {path}")


@click.command()
def logout() -> None:
    """Revoke the stored token on the portal and delete the credentials file.

    Succeeds (status 0) when there was nothing to sign out of, and also when the portal
    cannot be reached: the local file is removed either way.
    """
    stored = creds.read_file()
    if stored is not None and stored.token:
        _revoke(stored)
    if creds.delete():
        click.echo(f"signed out of {stored.url if stored else 'the portal'}")
    else:
        click.echo("not signed in")


def _revoke(stored: Credentials) -> None:
    async def run() -> None:
        async with PortalClient(stored.url, stored.token) as portal:
            await portal.logout()

    try:
        asyncio.run(run())
    except ClientError as exc:  # an expired token or a gone portal: forget it all the same
        note(f"warning: the portal did not revoke the token: {exc}")
