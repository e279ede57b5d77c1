"""``python -m backend_svc admin …``: administration beside a backend, straight on its database.

Only a process that may open the backend's PostgreSQL can act as the platform itself: the
broker is never asked to believe that a message comes from the system (docs/security.md).
The change goes through the same domain code as the RPC method, so its audit entry and its
``modelport.user.created`` event (through the outbox) are written in the same transaction.

Exit status: 0 done, 1 the database cannot be reached, 2 invalid input, 3 the user exists.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import asyncpg
import click
from pydantic import ValidationError

from backend_svc import db, users
from backend_svc.migrations import apply_migrations, load_migrations
from backend_svc.passwords import hash_password
from backend_svc.settings import BackendSettings
from common.amqp.rpc import validation_message
from common.contracts.base import ROLES, Principal, Role
from common.contracts.users import CreateUser, UserOut
from common.errors import Conflict

PASSWORD_ENV = "MODELPORT_NEW_PASSWORD"
EXIT_EXISTS = 3


class Exists(click.ClickException):
    exit_code = EXIT_EXISTS


@click.group()
def admin() -> None:
    """Administer the platform on the backend's database (MODELPORT_DATABASE_URL)."""


@admin.command("create-user")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="Give the user administrator rights.")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="The user's role [default: user; admin with --admin].")
@click.option("--display-name", default="", help="Name shown in the portal.")
def create_user(username: str, is_admin: bool, role: Role | None, display_name: str) -> None:
    """Create USERNAME. The password comes from MODELPORT_NEW_PASSWORD or a hidden prompt."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        request = CreateUser(actor=Principal.SYSTEM, username=username, password=password,
                             display_name=display_name, is_admin=is_admin,
                             role=role or ("admin" if is_admin else "user"))
    except ValidationError as exc:
        raise click.UsageError(validation_message(exc)) from None
    user = asyncio.run(_create(BackendSettings(), request))
    role_name = {"admin": "administrator"}.get(user.role, user.role)
    click.echo(f"created {role_name} {user.username} (id {user.id})")


async def _create(settings: BackendSettings, request: CreateUser) -> UserOut:
    dsn = settings.database_url.get_secret_value()
    try:
        await db.ensure_database(dsn, deadline_s=settings.connect_deadline_s)
        conn = await db.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise click.ClickException(f"cannot reach the backend's database: {exc}") from None
    try:
        await apply_migrations(conn, load_migrations())
        password_hash = await hash_password(request.password.get_secret_value())
        async with conn.transaction():
            return await users.create_user(
                conn, Principal.SYSTEM, username=request.username,
                password_hash=password_hash,
                display_name=request.display_name, role=request.role,
            )
    except Conflict as exc:
        raise Exists(exc.message) from None
    finally:
        await conn.close()


def main(argv: Sequence[str]) -> int:
    """Run the admin command line; returns its exit status."""
    try:
        admin.main(list(argv), prog_name="python -m backend_svc admin", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    return 0
