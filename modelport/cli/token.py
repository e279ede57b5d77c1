"""``modelport token create|list|revoke``: personal API tokens for scripts and other machines.

``create`` prints the secret alone on stdout (so ``TOKEN=$(modelport token create …)`` works)
and what it is on stderr; it is shown this once. These commands need a ``full`` token (the one
``modelport login`` keeps is).
"""

from __future__ import annotations

import click

from common.contracts.tokens import SCOPES
from modelport.cli.output import emit_json, note, table, when
from modelport.cli.remote import call
from modelport.client.tokens import Tokens


@click.group()
def token() -> None:
    """Personal API tokens: make, list and revoke them."""


@token.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(SCOPES), default="read", show_default=True,
              help="read: look only; jobs: also submit/cancel jobs and upload cases; "
                   "full: everything you may do.")
@click.option("--expires-in-days", type=click.IntRange(min=1),
              help="Lifetime [default: the platform's].")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON (secret too).")
def create(name: str, scope: str, expires_in_days: int | None, as_json: bool) -> None:
    """Make a token called NAME; prints its secret, shown this once."""
    made = call(lambda portal: Tokens(portal).create(name, scope, expires_in_days))
    if as_json:
        emit_json(made)
        return
    click.echo(str(made["token"]))
    note(f"token {made['id']} ({made['scope']}) expires {when(made.get('expires_at'))}; "
         "it is not shown again")


@token.command("list")
@click.option("--user", "username", help="Another user's tokens (admins).")
@click.option("--json", "as_json", is_flag=True, help="Print the portal's JSON.")
def list_(username: str | None, as_json: bool) -> None:
    """List your live tokens (never their secrets)."""
    found = call(lambda portal: Tokens(portal).list(username))
    if as_json:
        emit_json(found)
        return
    rows = [{**t, "created": when(t.get("created_at")), "expires": when(t.get("expires_at")),
             "used": when(t.get("last_used_at")) if t.get("last_used_at") else "never"}
            for t in found]
    table(rows, [("ID", "id"), ("NAME", "name"), ("SCOPE", "scope"), ("CREATED", "created"),
                 ("EXPIRES", "expires"), ("LAST USED", "used")], "no tokens")


@token.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke token TOKEN_ID: it stops working at once, open live streams included."""
    call(lambda portal: Tokens(portal).revoke(token_id))
    note(f"token {token_id} revoked")
