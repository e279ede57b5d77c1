"""``modelport keys new|platform``: make the key pairs of publishers and of the platform.

Private keys are written with mode 0600 and never replace an existing file.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from common.packages import (
    PackageError,
    PlatformPublicKey,
    PublisherKey,
    generate_platform_key,
    generate_signing_key,
    save_private_key,
    save_public_key,
)
from modelport.cli.output import note
from modelport.cli.remote import Failed
from modelport.client.credentials import config_dir

Command = Callable[..., Any]


def _out_option(what: str) -> Callable[[Command], Command]:
    return click.option(
        "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
        help=f"Folder for the {what} key files [default: <config dir>/keys].",
    )


def _write_pair(out_dir: Path | None, name: str, private_pem: bytes, public_line: str) -> Path:
    folder = out_dir or config_dir() / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise Failed(f"{path} exists; not replacing a key (choose another --name or --out)")
    try:
        save_private_key(private, private_pem)
        save_public_key(public, public_line)
    except (PackageError, OSError) as exc:
        raise Failed(str(exc)) from None
    return private


@click.group()
def keys() -> None:
    """Make publisher keys (sign runtimes) and platform keys (apps are encrypted for them)."""


@keys.command("new")
@_out_option("publisher")
@click.option("--name", default="publisher", show_default=True,
              help="File names: NAME.key (private, 0600) and NAME.pub.")
@click.option("--comment", help="Comment on the public key line [default: user@host].")
def new(out_dir: Path | None, name: str, comment: str | None) -> None:
    """Make an Ed25519 publisher key pair; print its key id on stdout.

    Add NAME.pub to the platform's trusted keys (MODELPORT_TRUSTED_KEYS) so it accepts
    runtimes you sign with `modelport runtime pack --key NAME.key`.
    """
    pem, line = generate_signing_key(comment or f"{getpass.getuser()}@{socket.gethostname()}")
    private = _write_pair(out_dir, name, pem, line)
    note(f"private key: {private}\npublic key:  {private.with_suffix('.pub')}")
    click.echo(PublisherKey.from_text(line).key_id)


@keys.command("platform")
@_out_option("platform")
@click.option("--name", default="platform", show_default=True,
              help="File names: NAME.key (private, 0600) and NAME.pub.")
def platform(out_dir: Path | None, name: str) -> None:
    """Make the platform's X25519 key pair (for administrators); print its key id.

    The portal and the session and solve services read NAME.key through
    MODELPORT_PLATFORM_KEY_FILE; app packages are encrypted for its public half (with age:
    the recipient printed is the same key; an age-keygen identity file also serves).
    """
    pem, line = generate_platform_key("modelport platform")
    private = _write_pair(out_dir, name, pem, line)
    public = PlatformPublicKey.from_text(line)
    note(f"private key: {private}\npublic key:  {private.with_suffix('.pub')}\n"
         f"age recipient: {public.to_age()}")
    click.echo(public.key_id)
