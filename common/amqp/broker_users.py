"""Broker users and their least permissions, one user per service role and per integrator.

``python -m common.amqp.broker_users --vhost / --prefix mp- --integrator acme --out FILE``
creates (or re-keys) the users with generated passwords in one ``rabbitmqctl eval`` (read from
stdin, so no password shows in a process list), sets their permissions on the vhost and writes
``user=password`` lines plus the ``MODELPORT_BROKER_ROLES`` map to FILE (mode 0600). There is
no default password. The rules are in docs/security.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
from dataclasses import dataclass

from common.amqp import topology
from common.contracts.method import BACKEND, PORTAL, ROLES, SESSION_WORKER, SOLVE_WORKER

_BASE = "modelport\\.(commands|events|dead-letter)"
"""The exchanges (and dead-letter queue) every service declares idempotently at start."""
_REPLY = "amq\\.rabbitmq\\.reply-to"
_UNNAMED = "amq\\.gen-.*|amq_[0-9a-f]{32}"
"""Exclusive queues bound to the events: named by the server, or by aio-pika's robust channel
(``amq_<uuid4 hex>``, so that a reconnect declares the same name again)."""
_OWN = {
    BACKEND: "backend\\.rpc",
    PORTAL: _UNNAMED,  # the live views' queues of job events
    SESSION_WORKER: f"session\\.(rpc|commands|worker\\..*)|{_UNNAMED}",  # + job events
    SOLVE_WORKER: "solve\\.(rpc|commands|worker\\..*)",
}
INTEGRATOR_PREFIX = "integrator."


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ's three regular expressions on one vhost."""

    configure: str
    write: str
    read: str


def role_permissions(role: str) -> Permissions:
    """A service role: declare the base topology and its own queues, publish to the base
    exchanges and (for RPC) the default exchange, read its own queues and direct reply-to."""
    own = _OWN[role]
    return Permissions(
        configure=f"^({_BASE}|{own})$",
        write=f"^({_BASE}|{own}|amq\\.default)$",
        read=f"^({_BASE}|{own}|{_REPLY})$",
    )


def integrator_queue_prefix(name: str) -> str:
    """Queues an integrator may declare: ``integrator.<name>.…``."""
    return f"{INTEGRATOR_PREFIX}{name}."


def integrator_permissions(name: str) -> Permissions:
    """An integrator: its own queues, bound to the events exchange, and nothing else (no
    write on any exchange, so it cannot publish a command, a request or an event)."""
    own = integrator_queue_prefix(name).replace(".", "\\.") + ".*"
    return Permissions(
        configure=f"^{own}$",
        write=f"^{own}$",
        read=f"^({own}|{topology.EVENTS.replace('.', chr(92) + '.')})$",
    )


@dataclass(frozen=True)
class BrokerUser:
    name: str
    password: str
    permissions: Permissions
    role: str | None  # None: an integrator (no RPC role)


def role_user_name(prefix: str, role: str) -> str:
    """``<prefix><role>`` with dashes: ``mp-session-worker``."""
    return f"{prefix}{role.replace('_', '-')}"


def role_user(prefix: str, role: str, password: str) -> BrokerUser:
    """The broker user of a service role, with its least permissions."""
    return BrokerUser(role_user_name(prefix, role), password, role_permissions(role), role)


def plan(prefix: str, integrators: list[str]) -> list[BrokerUser]:
    """One user per role (``<prefix><role>``) and per integrator, each with a new password."""
    users = [role_user(prefix, role, secrets.token_urlsafe(24)) for role in ROLES]
    users += [BrokerUser(f"{prefix}int-{name}", secrets.token_urlsafe(24),
                         integrator_permissions(name), None) for name in integrators]
    return users


def roles_map(users: list[BrokerUser]) -> dict[str, str]:
    """The ``MODELPORT_BROKER_ROLES`` value for these users."""
    return {u.name: u.role for u in users if u.role is not None}


def password_hash(name: str, password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` form: base64(salt + sha256(salt + pw)).

    The 4-byte salt is taken from the user's name and password, so the same pair always gives
    the same document (a stack's secrets step rewrites nothing when nothing changed), while
    two users never share a salt."""
    salt = hashlib.sha256(f"{name}\0{password}".encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(users: list[BrokerUser], vhost: str, *, admin: tuple[str, str] | None = None
                ) -> dict[str, object]:
    """A definitions document (RabbitMQ's ``load_definitions``) holding the vhost, ``users``
    with their permissions and, when given, an administrator ``(name, password)`` with every
    right; only password hashes are written. A broker that imports it at boot has exactly
    these users (no ``guest``)."""
    everyone = [(u.name, u.password, u.permissions, "") for u in users]
    if admin is not None:
        everyone.append((admin[0], admin[1], Permissions(".*", ".*", ".*"), "administrator"))
    return {
        "vhosts": [{"name": vhost}],
        "users": [{"name": name, "password_hash": password_hash(name, password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}
                  for name, password, _, tags in everyone],
        "permissions": [{"user": name, "vhost": vhost, "configure": p.configure,
                         "write": p.write, "read": p.read} for name, _, p, _ in everyone],
    }


def _bin(text: str) -> str:
    return '<<"' + text.replace("\\", "\\\\").replace('"', '\\"') + '">>'


def _erlang(users: list[BrokerUser], vhost: str) -> str:
    act = _bin("modelport")
    steps = []
    for u in users:
        p = u.permissions
        steps.append(
            f"case rabbit_auth_backend_internal:add_user({_bin(u.name)}, {_bin(u.password)}, "
            f"{act}) of ok -> ok; _ -> ok = rabbit_auth_backend_internal:change_password("
            f"{_bin(u.name)}, {_bin(u.password)}, {act}) end, "
            f"ok = rabbit_auth_backend_internal:set_permissions({_bin(u.name)}, {_bin(vhost)}, "
            f"{_bin(p.configure)}, {_bin(p.write)}, {_bin(p.read)}, {act})"
        )
    return ", ".join(steps) + ", ok.\n"


def apply(users: list[BrokerUser], vhost: str, *, rabbitmqctl: str = "rabbitmqctl") -> None:
    """Create or re-key the users and set their permissions on ``vhost`` (one CLI call)."""
    subprocess.run([rabbitmqctl, "-q", "eval"], input=_erlang(users, vhost), text=True,
                   check=True, capture_output=True, timeout=120)


def delete(names: list[str], *, rabbitmqctl: str = "rabbitmqctl") -> None:
    expr = ", ".join(f"rabbit_auth_backend_internal:delete_user({_bin(n)}, {_bin('modelport')})"
                     for n in names) + ", ok.\n"
    subprocess.run([rabbitmqctl, "-q", "eval"], input=expr, text=True, check=True,
                   capture_output=True, timeout=120)


def write_credentials(users: list[BrokerUser], path: str) -> None:
    """``user=password`` lines and the roles map, readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        for u in users:
            out.write(f"{u.name}={u.password}\n")
        out.write(f"MODELPORT_BROKER_ROLES={json.dumps(roles_map(users))}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--prefix", default="mp-")
    parser.add_argument("--integrator", action="append", default=[])
    parser.add_argument("--out", required=True, help="credentials file to write (mode 0600)")
    parser.add_argument("--rabbitmqctl", default="rabbitmqctl")
    args = parser.parse_args()
    users = plan(args.prefix, args.integrator)
    apply(users, args.vhost, rabbitmqctl=args.rabbitmqctl)
    write_credentials(users, args.out)
    print(f"broker users: {', '.join(u.name for u in users)} on vhost {args.vhost!r}; "
          f"passwords in {args.out}")


if __name__ == "__main__":
    main()
