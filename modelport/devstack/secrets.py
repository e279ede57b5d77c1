"""The secrets of a compose or Swarm stack, made on first start unless given.

Each secret is one file. Which containers see it is decided by *folders*: the ``secrets``
step of docker-compose.yml mounts one volume per folder and writes every secret into the
folders of its readers, so PostgreSQL sees only its password, the services never see the
publisher's private key, and each service sees only its own broker password (its own folder).
For a Swarm, :func:`ensure` writes into one folder and each file becomes a Swarm secret
(``deploy/swarm.sh``).

A value given in the environment (``.env``) is written on every start and wins; otherwise a
value is generated once and kept. Nothing has a fixed default.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from common.amqp import broker_users
from common.contracts.method import BACKEND as BACKEND_ROLE
from common.contracts.method import PORTAL as PORTAL_ROLE
from common.contracts.method import SESSION_WORKER, SOLVE_WORKER
from common.packages import generate_platform_key, generate_signing_key, signing_key_from_pem

DB, BROKER, S3, PLATFORM, BACKEND, PUBLISHER = (
    "db", "broker", "s3", "platform", "backend", "publisher")
PORTAL, SESSION, SOLVE = "portal", "session", "solve"
FOLDERS = (DB, BROKER, S3, PLATFORM, BACKEND, PUBLISHER, PORTAL, SESSION, SOLVE)
AMQP_USER_ENV, S3_USER = "MODELPORT_AMQP_USER", "modelport"
BROKER_PREFIX = "mp-"
"""Broker users of the stack's service roles: ``mp-portal``, ``mp-backend``,
``mp-session-worker``, ``mp-solve-worker`` (:func:`common.amqp.broker_users.role_user`)."""
ROLE_OF_FOLDER = {BACKEND: BACKEND_ROLE, PORTAL: PORTAL_ROLE, SESSION: SESSION_WORKER,
                  SOLVE: SOLVE_WORKER}
"""Each service's own folder → its broker role; the folder holds that role's password."""


def broker_secret(folder: str) -> str:
    """The file holding the broker password of the service whose own folder is ``folder``."""
    return f"amqp_{folder}_password"


DEFINITIONS_PATH = "/run/secrets/definitions.json"  # where the broker container sees its folder


def _password() -> str:
    return secrets.token_urlsafe(24)


def _fernet_key() -> str:  # the same shape as StateDir.cookie_secret
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _platform_key() -> str:
    return generate_platform_key("modelport stack platform")[0].decode()


def _publisher_key() -> str:
    return generate_signing_key("modelport stack publisher (development)")[0].decode()


@dataclass(frozen=True)
class Secret:
    """One secret file: its ``name``, the variable that may give it, how to make one, and
    the folders of the containers that read it."""

    name: str
    given_by: str
    make: Callable[[], str]
    folders: tuple[str, ...]


SECRETS = (
    Secret("postgres_password", "MODELPORT_POSTGRES_PASSWORD", _password, (DB, BACKEND)),
    Secret("amqp_password", "MODELPORT_AMQP_PASSWORD", _password, (BROKER,)),
    *(Secret(broker_secret(f), f"MODELPORT_AMQP_{f.upper()}_PASSWORD", _password, (f,))
      for f in (BACKEND, PORTAL, SESSION, SOLVE)),
    Secret("s3_access_key", "MODELPORT_S3_ACCESS_KEY", _password, (PLATFORM,)),
    Secret("s3_secret_key", "MODELPORT_S3_SECRET_KEY", _password, (PLATFORM,)),
    Secret("cookie_secret", "MODELPORT_COOKIE_SECRET", _fernet_key, (PLATFORM,)),
    Secret("admin_password", "MODELPORT_ADMIN_PASSWORD", _password, (BACKEND,)),
    Secret("platform_key", "MODELPORT_PLATFORM_KEY", _platform_key, (PLATFORM,)),
    Secret("publisher_key", "MODELPORT_PUBLISHER_KEY", _publisher_key, (PUBLISHER,)),
)
"""Every secret of the stack. Derived files (below) are written next to them."""


@dataclass(frozen=True)
class Outcome:
    """What :func:`ensure` did: the names it generated and the names taken as given."""

    generated: list[str]
    given: list[str]


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    os.chmod(tmp, mode)  # umask must not narrow it: other uids (PostgreSQL's) read some files
    tmp.replace(path)


def _read(folder: Path, name: str) -> str | None:
    path = folder / name
    return path.read_text().strip() if path.exists() else None


def ensure(folders: Mapping[str, Path], env: Mapping[str, str]) -> Outcome:
    """Write every secret (given, kept, or generated) and the derived files into ``folders``
    (folder name → directory; one directory may serve every folder). Returns what it did."""
    outcome = Outcome([], [])
    values = {}
    for secret in SECRETS:
        homes = [folders[f] for f in secret.folders]
        given = env.get(secret.given_by, "").strip()
        kept = next((v for v in (_read(h, secret.name) for h in homes) if v), None)
        value = given or kept or secret.make()
        (outcome.given if given else outcome.generated if not kept else []).append(secret.name)
        for home in homes:
            if _read(home, secret.name) != value:
                _write(home / secret.name, value, 0o444 if home in _shared(folders) else 0o400)
        values[secret.name] = value
    _derived(folders, values, env)
    return outcome


def _shared(folders: Mapping[str, Path]) -> set[Path]:
    """Folders read by the infrastructure's own users (not uid 10001): world-readable, as
    Docker's own secrets are (0444)."""
    return {folders[DB], folders[BROKER], folders[S3]}


def broker_definitions(values: Mapping[str, str], env: Mapping[str, str]) -> dict[str, object]:
    """RabbitMQ's users at every boot: one per service role with its least permissions (only
    its hashed password), and the operator's administrator (``MODELPORT_AMQP_USER``,
    ``amqp_password``: the management UI). No ``guest``, no default password."""
    users = [broker_users.role_user(BROKER_PREFIX, role, values[broker_secret(folder)])
             for folder, role in ROLE_OF_FOLDER.items()]
    admin = (env.get(AMQP_USER_ENV, "modelport"), values["amqp_password"])
    return broker_users.definitions(users, "/", admin=admin)


def broker_roles() -> dict[str, str]:
    """``MODELPORT_BROKER_ROLES`` of the stack: broker user → role."""
    return {broker_users.role_user_name(BROKER_PREFIX, role): role
            for role in ROLE_OF_FOLDER.values()}


def _derived(folders: Mapping[str, Path], values: Mapping[str, str],
             env: Mapping[str, str]) -> None:
    """The files the infrastructure reads: RabbitMQ's config and its users (definitions
    imported at every boot), SeaweedFS's S3 identities, and the publisher's public key that
    the services trust."""
    definitions = json.dumps(broker_definitions(values, env), indent=2)
    _write(folders[BROKER] / "definitions.json", definitions, 0o444)
    conf = (f"load_definitions = {DEFINITIONS_PATH}\n"
            f"default_user = {env.get(AMQP_USER_ENV, 'modelport')}\n"
            f"default_pass = {values['amqp_password']}\n"
            "default_vhost = /\nloopback_users = none\n")
    _write(folders[BROKER] / "rabbitmq.conf", conf, 0o444)
    identity = {"name": S3_USER, "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                "credentials": [{"accessKey": values["s3_access_key"],
                                 "secretKey": values["s3_secret_key"]}]}
    _write(folders[S3] / "s3.json", json.dumps({"identities": [identity]}, indent=2), 0o444)
    public = signing_key_from_pem(values["publisher_key"].encode()).public_key.to_text()
    _write(folders[PLATFORM] / "publisher.pub", public, 0o444)
