"""What ``dev up`` runs: the four services, their ports and environments.

Every service gets the caller's environment (so the usual ``MODELPORT_*`` variables override
the local defaults) plus what the stack decides: its status port, the S3 endpoint, and for the
portal its address and cookie secret. Secrets go only where they are needed: the bootstrap
admin and the database URL only to backend.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

SERVICES: tuple[tuple[str, str, int], ...] = (
    ("backend", "backend_svc", 8091),
    ("session", "session_svc", 8092),
    ("solve", "solve_svc", 8093),
    ("portal", "portal_svc", 8080),
)
"""(name, module, default port of /readyz) for each service, in start order."""

BACKEND_ONLY = ("MODELPORT_ADMIN_USER", "MODELPORT_ADMIN_PASSWORD", "MODELPORT_DATABASE_URL")
NEVER_PASSED = ("MODELPORT_NEW_PASSWORD",)


@dataclass(frozen=True)
class ServiceSpec:
    """One service process: ``python -m module`` with ``env``; ready when /readyz says 200."""

    name: str
    module: str
    port: int
    env: dict[str, str]

    @property
    def readyz_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/readyz"


def free_port() -> int:
    """A port the kernel considers free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something listens on ``127.0.0.1:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def choose_ports(portal_port: int, *, free_ports: bool) -> dict[str, int]:
    """Ports by service name: the defaults (portal's from the option) or free ones."""
    if free_ports:
        return {name: free_port() for name, _, _ in SERVICES}
    ports = {name: default for name, _, default in SERVICES}
    ports["portal"] = portal_port
    return ports


def busy_ports(ports: Mapping[str, int]) -> dict[str, int]:
    """The subset of ``ports`` something else already listens on."""
    return {name: port for name, port in ports.items() if port_in_use(port)}


def service_env(
    name: str, port: int, base: Mapping[str, str], shared: Mapping[str, str]
) -> dict[str, str]:
    """The environment of one service process (see the module's docstring)."""
    env = {k: v for k, v in base.items() if k not in NEVER_PASSED}
    if name != "backend":
        env = {k: v for k, v in env.items() if k not in BACKEND_ONLY}
    env.update(shared)
    env.setdefault("MODELPORT_LOG_FORMAT", "console")
    env["PYTHONUNBUFFERED"] = "1"
    if name == "portal":
        env["MODELPORT_PORT"] = str(port)
        env["MODELPORT_STATUS_PORT"] = "0"  # the portal serves /readyz on its main port
    else:
        env["MODELPORT_STATUS_PORT"] = str(port)
        env.pop("MODELPORT_COOKIE_SECRET", None)
    return env


def build_specs(
    ports: Mapping[str, int], base: Mapping[str, str], shared: Mapping[str, str],
    portal_extra: Mapping[str, str], keyed: Mapping[str, str] | None = None,
    own: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ServiceSpec]:
    """The four service specs; ``portal_extra`` is added to the portal's environment only,
    ``keyed`` (the package keys) to every service but backend, which never handles packages,
    and ``own[name]`` (a service's broker identity) to that service alone."""
    specs = []
    for name, module, _ in SERVICES:
        env = service_env(name, ports[name], base, shared)
        if name != "backend":
            env.update(keyed or {})
        if name == "portal":
            env.update(portal_extra)
        env.update((own or {}).get(name, {}))
        specs.append(ServiceSpec(name, module, ports[name], env))
    return specs


def portal_url(base: Mapping[str, str], port: int) -> str:
    """Where a browser reaches the portal: ``MODELPORT_PUBLIC_URL`` or loopback and the port."""
    public = base.get("MODELPORT_PUBLIC_URL", "").rstrip("/")
    host = base.get("MODELPORT_HOST", "127.0.0.1")
    return public or f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"
