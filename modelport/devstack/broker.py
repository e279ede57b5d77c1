"""The local stack's broker identities: one RabbitMQ user per service role (docs/security.md).

``dev up`` makes ``mp-<stack>-portal``, ``-backend``, ``-session-worker`` and
``-solve-worker`` on the vhost of ``MODELPORT_AMQP_URL`` with generated passwords and least
permissions (:mod:`common.amqp.broker_users`, through ``rabbitmqctl``: ``MODELPORT_RABBITMQCTL``
names another one), gives each service only its own URL, and sets ``MODELPORT_BROKER_ROLES``
so every RPC server checks who sends what. The workers' instance ids are made to begin with
their broker user, as the caller check requires of the worker names they report under. The
``<stack>`` part comes from the state directory, so two stacks on one broker never re-key each
other's users. The passwords are kept in ``<state-dir>/broker.env`` (mode 0600) while the
stack runs; ``dev down`` deletes the users and the file.

When the environment sets ``MODELPORT_BROKER_ROLES`` itself, the caller manages the broker
users and nothing is made here.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from yarl import URL

from common.amqp import broker_users
from common.contracts.method import BACKEND, PORTAL, SESSION_WORKER, SOLVE_WORKER

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBITMQCTL_ENV = "MODELPORT_RABBITMQCTL"
ROLES_ENV = "MODELPORT_BROKER_ROLES"
ROLE_OF = {"backend": BACKEND, "portal": PORTAL, "session": SESSION_WORKER,
           "solve": SOLVE_WORKER}
"""Service name (``dev up``'s) → broker role."""
FILE = "broker.env"


def prefix_for(state_root: Path) -> str:
    """``mp-<8 hex of the state dir's path>-``: one set of users per stack."""
    return f"mp-{hashlib.sha256(str(state_root.resolve()).encode()).hexdigest()[:8]}-"


def vhost_of(url: str) -> str:
    """The vhost an AMQP URL names (``/`` when its path is empty or ``/``)."""
    return unquote(URL(url).raw_path[1:]) or "/"


@dataclass(frozen=True)
class StackIdentities:
    """The role users of one stack and the base URL (host, port, vhost) they connect to."""

    base_url: str
    users: list[broker_users.BrokerUser]

    def user_for(self, service: str) -> broker_users.BrokerUser:
        role = ROLE_OF[service]
        return next(u for u in self.users if u.role == role)

    def env_for(self, service: str, base: Mapping[str, str]) -> dict[str, str]:
        """What ``service`` gets: its own URL, the role map, and (workers) an instance id
        owned by its broker user."""
        user = self.user_for(service)
        url = URL(self.base_url).with_user(user.name).with_password(user.password)
        env = {"MODELPORT_AMQP_URL": str(url),
               ROLES_ENV: json.dumps(broker_users.roles_map(self.users))}
        if ROLE_OF[service] in (SESSION_WORKER, SOLVE_WORKER):
            instance = base.get("MODELPORT_INSTANCE_ID") or socket.gethostname()
            env["MODELPORT_INSTANCE_ID"] = f"{user.name}.{instance}"
        return env


def make(state_root: Path, base: Mapping[str, str]) -> StackIdentities | None:
    """Create (or re-key) the stack's role users; None when the caller set the roles."""
    if base.get(ROLES_ENV):
        return None
    base_url = base.get("MODELPORT_AMQP_URL") or DEFAULT_AMQP_URL
    users = broker_users.plan(prefix_for(state_root), [])
    broker_users.apply(users, vhost_of(base_url), rabbitmqctl=_ctl(base))
    broker_users.write_credentials(users, str(state_root / FILE))
    return StackIdentities(base_url, users)


def remove(state_root: Path, base: Mapping[str, str]) -> list[str]:
    """Delete the users ``broker.env`` names and the file; the names deleted."""
    path = state_root / FILE
    if not path.exists():
        return []
    names = [line.split("=", 1)[0] for line in path.read_text().splitlines()
             if "=" in line and not line.startswith(ROLES_ENV)]
    if names:
        broker_users.delete(names, rabbitmqctl=_ctl(base))
    path.unlink()
    return names


def _ctl(base: Mapping[str, str]) -> str:
    return base.get(RABBITMQCTL_ENV) or "rabbitmqctl"
