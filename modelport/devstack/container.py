"""Inside a stack's container: turn secret files into the ``MODELPORT_*`` settings of one
service, then become that service (``exec``).

The service image's entrypoint is ``python -m modelport.devstack.compose exec -- CMD``. It
reads the secret files (see :mod:`modelport.devstack.secrets`) from the folders named in
``MODELPORT_SECRETS_DIRS`` (``:``-separated, default ``/run/secrets``, where Swarm mounts its
secrets too), builds the URLs the service needs, and hands each service only its own:
the database URL and the admin password go to backend alone (as ``dev up`` does,
:data:`modelport.devstack.plan.BACKEND_ONLY`), the package keys to every service but backend,
the cookie key to the portal, and each service its own broker user (``mp-<role>``, its password
from the service's own folder) with ``MODELPORT_BROKER_ROLES``, so the caller check is on; a
worker's instance id is put under its broker user (``mp-solve-worker.<host>``), as that check
requires. A variable already set in the environment is left alone (but the instance id).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from common.amqp import broker_users
from modelport.devstack import secrets
from modelport.devstack.plan import BACKEND_ONLY

DIRS_ENV = "MODELPORT_SECRETS_DIRS"
DEFAULT_DIRS = "/run/secrets"
ROLES = ("backend", "portal", "session", "solve")


def role_of(argv: Sequence[str]) -> str:
    """The service a command runs (``python -m portal_svc`` → ``portal``), else ``tool``."""
    for arg in argv:
        name = arg.removesuffix("_svc")
        if arg.endswith("_svc") and name in ROLES:
            return name
    return "tool"


def find_secrets(env: Mapping[str, str]) -> dict[str, Path]:
    """Secret name → file, over the folders of ``MODELPORT_SECRETS_DIRS`` (first one wins)."""
    found: dict[str, Path] = {}
    for folder in env.get(DIRS_ENV, DEFAULT_DIRS).split(":"):
        path = Path(folder)
        if path.is_dir():
            for file in sorted(path.iterdir()):
                if file.is_file() and not file.name.startswith("."):
                    found.setdefault(file.name, file)
    return found


def _text(files: Mapping[str, Path], name: str) -> str | None:
    return files[name].read_text().strip() if name in files else None


def _urls(files: Mapping[str, Path], env: Mapping[str, str]) -> dict[str, str]:
    """The connection settings every service gets, from the passwords found."""
    out = {}
    amqp = _text(files, "amqp_password")
    if amqp is not None:
        user, host = env.get("MODELPORT_AMQP_USER", "modelport"), env.get(
            "MODELPORT_AMQP_HOST", "rabbitmq")
        out["MODELPORT_AMQP_URL"] = f"amqp://{quote(user, '')}:{quote(amqp, '')}@{host}:5672/"
    db = _text(files, "postgres_password")
    if db is not None:
        user, host = env.get("MODELPORT_POSTGRES_USER", "modelport"), env.get(
            "MODELPORT_POSTGRES_HOST", "postgres")
        name = env.get("MODELPORT_POSTGRES_DB", "modelport")
        out["MODELPORT_DATABASE_URL"] = (
            f"postgresql://{quote(user, '')}:{quote(db, '')}@{host}:5432/{name}")
    for name, var in (("s3_access_key", "MODELPORT_S3_ACCESS_KEY"),
                      ("s3_secret_key", "MODELPORT_S3_SECRET_KEY"),
                      ("admin_password", "MODELPORT_ADMIN_PASSWORD"),
                      ("cookie_secret", "MODELPORT_COOKIE_SECRET")):
        value = _text(files, name)
        if value is not None:
            out[var] = value
    for name, var in (("platform_key", "MODELPORT_PLATFORM_KEY_FILE"),
                      ("publisher.pub", "MODELPORT_TRUSTED_KEYS"),
                      ("publisher_key", "MODELPORT_PUBLISHER_KEY_FILE")):
        if name in files:
            out[var] = str(files[name])
    return out


def _broker_identity(role: str, files: Mapping[str, Path], env: Mapping[str, str]
                     ) -> dict[str, str]:
    """The service's own broker user (its password is in its own folder), the role map that
    turns the caller check on, and for a worker an instance id its broker user owns."""
    password = _text(files, secrets.broker_secret(role)) if role in ROLES else None
    if password is None:
        return {}
    name = broker_users.role_user_name(secrets.BROKER_PREFIX, secrets.ROLE_OF_FOLDER[role])
    host = env.get("MODELPORT_AMQP_HOST", "rabbitmq")
    out = {"MODELPORT_AMQP_URL": f"amqp://{quote(name, '')}:{quote(password, '')}@{host}:5672/",
           "MODELPORT_BROKER_ROLES": json.dumps(secrets.broker_roles())}
    if role in ("session", "solve"):
        instance = env.get("MODELPORT_INSTANCE_ID") or socket.gethostname()
        out["MODELPORT_INSTANCE_ID"] = instance if instance.startswith(name + ".") \
            else f"{name}.{instance}"
    return out


def service_env(role: str, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` plus the settings from the secret files that ``role`` may have."""
    files = find_secrets(env)
    extra = _urls(files, env)
    own = _broker_identity(role, files, env)
    if role not in ("backend", "tool"):
        extra = {k: v for k, v in extra.items() if k not in BACKEND_ONLY}
    if role == "backend":
        for var in ("MODELPORT_PLATFORM_KEY_FILE", "MODELPORT_TRUSTED_KEYS"):
            extra.pop(var, None)
    if role != "portal":
        extra.pop("MODELPORT_COOKIE_SECRET", None)
    if role != "tool":
        extra.pop("MODELPORT_PUBLISHER_KEY_FILE", None)
    merged = {**extra, **env}
    if "MODELPORT_INSTANCE_ID" in own:  # a worker's name must be owned by its broker user
        merged["MODELPORT_INSTANCE_ID"] = own.pop("MODELPORT_INSTANCE_ID")
    return {**merged, **{k: v for k, v in own.items() if k not in env}}


def exec_service(argv: Sequence[str]) -> None:
    """Replace this process with ``argv``, its environment completed from the secrets."""
    if not argv:
        raise SystemExit("exec: no command given")
    env = service_env(role_of(argv), os.environ)
    os.execvpe(argv[0], list(argv), env)
