"""Running a platform command against the signed-in portal, and its exit statuses.

Exit statuses of every command that talks to the portal (see docs/cli.md):
0 done; 1 refused by the server or failed locally; 2 bad usage (click's own);
3 not signed in, or the token/password was rejected; 4 the portal cannot be reached.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from modelport.cli.output import BarProgress, note, transfer
from modelport.client import ApiError, ClientError, PortalClient, PortalUnreachable
from modelport.client import credentials as creds
from modelport.client.credentials import Credentials

T = TypeVar("T")
LOGIN_HINT = "run `modelport login` (or set MODELPORT_TOKEN)"


class Failed(click.ClickException):
    """A one-line failure: ``error: <message>`` on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr)


class AuthFailed(Failed):
    """Not signed in, or the portal refused the token or password: exit status 3."""

    exit_code = 3


class Unreachable(Failed):
    """The portal gave no (complete) answer: exit status 4."""

    exit_code = 4


def signed_in() -> Credentials:
    """The credentials in force; :class:`AuthFailed` when there is no token."""
    found = creds.current()
    if not found.token:
        raise AuthFailed(f"not signed in to {found.url}: {LOGIN_HINT}")
    return found


def call(action: Callable[[PortalClient], Awaitable[T]], who: Credentials | None = None) -> T:
    """Run ``action`` with a client of the signed-in portal (or of ``who``).

    Maps the client's errors to :class:`Failed` and its subclasses.
    """
    who = who or signed_in()

    async def run() -> T:
        async with PortalClient(who.url, who.token) as portal:
            return await action(portal)

    try:
        return asyncio.run(run())
    except ClientError as exc:
        raise failure(exc, bool(who.token)) from None


def failure(exc: ClientError, had_token: bool) -> Failed:
    """The :class:`Failed` for a client error (one line, the server's message first)."""
    if isinstance(exc, PortalUnreachable):
        return Unreachable(str(exc))
    if isinstance(exc, ApiError) and exc.status == 401:
        return AuthFailed(f"{exc}; {LOGIN_HINT}" if had_token else str(exc))
    return Failed(str(exc))


def download(
    description: str, fetch: Callable[[PortalClient, BarProgress], Awaitable[str]], output: Path
) -> None:
    """Run ``fetch`` (a checked download to ``output``, returning its sha256) under a transfer
    bar; print ``output``, then the verified sha256 on stderr. Raises :class:`Failed`."""
    with transfer(description) as bar:
        digest = call(lambda portal: fetch(portal, bar))
    click.echo(str(output))
    note(f"sha256 {digest} verified")
