"""The network a session container joins, and the host rules that make it a dead end.

A session container must answer the portal's proxy and reach nothing itself. It joins one
Docker bridge network per host (named ``MODELPORT_NETWORK`` on every host) that is

- ``internal``: the engine neither masquerades nor forwards its traffic out of the subnet (no
  internet, no other Docker network, no other host);
- ``enable_icc=false``: the bridge drops traffic between two containers of the network (no
  session reaches another);

and the host drops every *new* connection that arrives from the bridge (``INPUT -i bridge``),
so the host's own ports (the portal, a database or broker bound to the gateway or 0.0.0.0)
are closed to it too. Replies to the proxy's connections are established traffic and pass.
Connections the host opens to the container (the proxy) leave through OUTPUT and pass.
Why this and not ``NetworkMode: none`` with a socket: docs/sessions.md.

The network's Linux bridge is named per host (:func:`bridge_name`): two Docker engines that
share one network namespace (two hosts on one machine, tests/ha/engine.py) cannot both make a
bridge of the same name. The firewall names the bridge the network really has
(:func:`bridge_of`), so a network made before this naming keeps its rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil

import aiodocker
import structlog

from common.docker import DockerHost

log = structlog.get_logger(__name__)
BRIDGE_PREFIX = "mps-"
BRIDGE_OPTION = "com.docker.network.bridge.name"


def bridge_name(network: str, host: str) -> str:
    """The Linux bridge of ``network`` on the Docker host named ``host``: ``mps-`` and 11 hex
    digits of a hash of both (15 characters, the kernel's limit). Stable across restarts,
    distinct per (network, host), so engines sharing a network namespace do not collide."""
    digest = hashlib.sha256(f"{network}\0{host}".encode()).hexdigest()
    return BRIDGE_PREFIX + digest[:15 - len(BRIDGE_PREFIX)]


def bridge_of(info: dict[str, object]) -> str:
    """The bridge an existing network really has (from its inspect data): the one named in
    its options, else Docker's default ``br-`` and 12 characters of its id."""
    options = info.get("Options") or {}
    assert isinstance(options, dict)
    return str(options.get(BRIDGE_OPTION) or f"br-{str(info.get('Id', ''))[:12]}")


def network_spec(network: str, host: str) -> dict[str, object]:
    return {
        "Name": network, "Driver": "bridge", "Internal": True, "CheckDuplicate": True,
        "Options": {"com.docker.network.bridge.enable_icc": "false",
                    BRIDGE_OPTION: bridge_name(network, host)},
        "Labels": {"org.modelport.kind": "sessions-network"},
    }


async def ensure_network(host: DockerHost, network: str) -> dict[str, object]:
    """The network on ``host`` (created when missing); raises when one of that name exists
    with other settings (it would not isolate)."""
    try:
        info: dict[str, object] = await (await host.docker.networks.get(network)).show()
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise
        await host.docker.networks.create(network_spec(network, host.name))
        info = await (await host.docker.networks.get(network)).show()
        log.info("sessions_network_created", host=host.name, network=network,
                 bridge=bridge_of(info))
    _check(info, network)
    return info


class SessionNetworks:
    """The sessions network made ready once per host (network, then its firewall), at start
    for every host that answers and before the first launch on a host that did not, and again
    after the host was down (:meth:`forget`)."""

    def __init__(self, network: str, *, firewall: bool) -> None:
        self.network = network
        self.firewall = firewall
        self._ready: set[str] = set()
        self._lock = asyncio.Lock()

    def forget(self, host_name: str) -> None:
        """``host_name`` went down: make its network ready again before its next launch (a
        host that comes back rebuilt, or after a reboot, lacks the network or its rules)."""
        self._ready.discard(host_name)

    def is_ready(self, host_name: str) -> bool:
        return host_name in self._ready

    async def ready(self, host: DockerHost) -> None:
        """Ensure the network on ``host`` and close this machine to its bridge; raises as
        :func:`ensure_network` and :func:`install_firewall` do."""
        if host.name in self._ready:
            return
        async with self._lock:
            if host.name not in self._ready:
                info = await ensure_network(host, self.network)
                if self.firewall:
                    await install_firewall(bridge_of(info))
                self._ready.add(host.name)
                log.info("sessions_network_ready", host=host.name, network=self.network,
                         bridge=bridge_of(info))


def _check(info: dict[str, object], network: str) -> None:
    options = info.get("Options") or {}
    assert isinstance(options, dict)
    if not info.get("Internal") or options.get("com.docker.network.bridge.enable_icc") != "false":
        raise RuntimeError(f"Docker network {network!r} exists but is not internal with "
                           "enable_icc=false; remove it and let session_svc create it")


def firewall_rules(bridge: str) -> list[list[str]]:
    """The INPUT rules (in order) that close the host to its sessions' bridge."""
    return [
        ["INPUT", "-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
         "-j", "ACCEPT"],
        ["INPUT", "-i", bridge, "-j", "DROP"],
    ]


async def install_firewall(bridge: str) -> None:
    """Insert :func:`firewall_rules` at the top of INPUT unless present (idempotent).

    Raises RuntimeError when iptables is missing or refuses (no root): sessions must not run
    on a host that stays open to them."""
    iptables = shutil.which("iptables")
    if iptables is None:
        raise RuntimeError("iptables is not installed; cannot close the host to sessions")
    for position, rule in enumerate(firewall_rules(bridge), start=1):
        chain, *spec = rule
        if await _run(iptables, "-C", chain, *spec) == 0:
            continue
        if await _run(iptables, "-I", chain, str(position), *spec) != 0:
            raise RuntimeError(f"iptables refused {' '.join(rule)}")
    log.info("sessions_firewall_installed", bridge=bridge)


async def remove_firewall(bridge: str) -> None:
    """Delete :func:`firewall_rules` (when the network itself is removed)."""
    iptables = shutil.which("iptables") or "iptables"
    for rule in firewall_rules(bridge):
        chain, *spec = rule
        while await _run(iptables, "-D", chain, *spec) == 0:
            pass


async def remove_network(host: DockerHost, network: str) -> None:
    """Remove the network from ``host`` and this machine's firewall rules for its bridge (a
    missing network counts as removed)."""
    try:
        found = await host.docker.networks.get(network)
        bridge = bridge_of(await found.show())
        await found.delete()
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise
        return
    await remove_firewall(bridge)


async def _run(*cmd: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return await proc.wait()


def container_ip(info: dict[str, object], network: str) -> str:
    """The container's address on ``network`` from its inspect data; RuntimeError if none."""
    settings = info.get("NetworkSettings") or {}
    assert isinstance(settings, dict)
    networks = settings.get("Networks") or {}
    address = (networks.get(network) or {}).get("IPAddress") if isinstance(networks, dict) else ""
    if not address:
        raise RuntimeError(f"the container has no address on {network}")
    return str(address)
