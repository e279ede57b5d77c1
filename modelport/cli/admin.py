"""``modelport admin …``: administration over AMQP RPC, acting as the platform itself.

Exit status: 0 done, 1 refused by backend or backend/broker unreachable, 2 invalid input,
3 the user already exists.
"""

from __future__ import annotations

import asyncio
import logging
import os

import aiormq
import click
from aio_pika.abc import AbstractRobustConnection
from pydantic import ValidationError

from common.amqp import topology
from common.amqp.connection import connect
from common.amqp.rpc import RpcClient, validation_message
from common.contracts.base import Principal
from common.contracts.users import CreateUser, UserMethods, UserOut
from common.errors import ModelportError, RpcTimeout
from common.logging import configure_logging
from modelport.cli.settings import CliSettings, masked_url

PASSWORD_ENV = "MODELPORT_NEW_PASSWORD"
EXIT_EXISTS = 3


class Exists(click.ClickException):
    exit_code = EXIT_EXISTS


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log connection attempts to stderr.")
def admin(verbose: bool) -> None:
    """Administer users (needs a running backend and MODELPORT_AMQP_URL)."""
    configure_logging("console", "info" if verbose else "critical")
    # aiormq logs an unroutable message at error level with its body (a password): hush it.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)


@admin.command("create-user")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="Give the user administrator rights.")
@click.option("--display-name", default="", help="Name shown in the portal.")
def create_user(username: str, is_admin: bool, display_name: str) -> None:
    """Create USERNAME. The password comes from MODELPORT_NEW_PASSWORD or a hidden prompt."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        request = CreateUser(
            actor=Principal.SYSTEM, username=username, password=password,
            display_name=display_name, is_admin=is_admin,
        )
    except ValidationError as exc:
        raise click.UsageError(validation_message(exc)) from None
    user = asyncio.run(_call_backend(CliSettings(), request))
    role = "administrator" if user.is_admin else "user"
    click.echo(f"created {role} {user.username} (id {user.id})")


async def _call_backend(settings: CliSettings, request: CreateUser) -> UserOut:
    url = settings.amqp_url.get_secret_value()
    try:
        connection = await connect(url, deadline_s=settings.connect_deadline_s, name="cli")
    except (OSError, aiormq.exceptions.AMQPError) as exc:
        raise click.ClickException(f"cannot reach RabbitMQ at {masked_url(url)}: {exc}") from None
    try:
        await _require_backend(connection)
        client = RpcClient(connection, timeout_s=settings.rpc_timeout_s)
        await client.start()
        try:
            return await client.call_method(UserMethods.CREATE, request)
        finally:
            await client.stop()
    except RpcTimeout:
        raise click.ClickException(
            f"backend did not answer within {settings.rpc_timeout_s:g} s: is backend_svc running?"
        ) from None
    except ModelportError as exc:
        raise _refusal(exc, request.username) from None
    finally:
        await connection.close()


async def _require_backend(connection: AbstractRobustConnection) -> None:
    """Fail fast with a clear message when no backend consumes its queue on this vhost."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(topology.BACKEND_RPC, passive=True)
        consumers = queue.declaration_result.consumer_count
    except aiormq.exceptions.ChannelNotFoundEntity:
        consumers = None
    finally:
        if not channel.is_closed:
            await channel.close()
    if consumers is None:
        raise click.ClickException("no backend has ever run on this broker vhost")
    if consumers == 0:
        raise click.ClickException("no backend is running (its queue has no consumer)")


def _refusal(exc: ModelportError, username: str) -> click.ClickException:
    if exc.status == 409:
        return Exists(exc.message or f"user {username!r} already exists")
    if exc.status == 503:
        return click.ClickException(f"backend unavailable: {exc.message}")
    if exc.status == 400:
        return click.UsageError(f"backend refused the request: {exc.message}")
    return click.ClickException(f"backend refused ({exc.code}, {exc.status}): {exc.message}")
