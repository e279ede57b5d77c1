"""Hardened container specs, names and labels: pure functions, no engine needed.

Every container we start runs as user 10001 on a read-only root with a tmpfs at /tmp and a
per-container volume at /work (the archive API needs a volume there: it refuses any path on a
read-only root, even a tmpfs). That volume is itself a size-limited tmpfs (the local driver's
``type=tmpfs``), so the only writable space a container has is bounded: /tmp by ``tmp_mb``,
/work by ``work_mb``; a write past either fails with ENOSPC. (overlay2's ``storage-opt size``
would need xfs with project quotas under the engine's data root; docs/quotas.md.) The
container drops every capability, cannot gain privileges, has no swap, no
network (a session joins the isolated sessions network instead, docs/sessions.md) and bounded
memory, CPU and pids, and never receives secrets in its environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from common.docker.errors import UnsafeSpec

Kind = Literal["job", "session", "warm"]
LABEL = "org.modelport"
SERVICE, KIND, ID, ATTEMPT, RUNTIME, MEMORY, OWNER = (
    f"{LABEL}.{k}" for k in ("service", "kind", "id", "attempt", "runtime", "memory_mb", "owner")
)
USER = "10001:10001"
WORKDIR = "/work"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_NAME = re.compile(r"^mp-(?P<kind>job|session|warm)-(?P<id>.+)-(?P<attempt>\d+)$")
_SECRET = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY"
                     r"|_KEY$|^KEY$|DSN|AMQP_URL|DATABASE_URL)", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container."""

    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 256
    tmp_mb: int = 64
    work_mb: int = 1024  # the /work volume (tmpfs): files the worker puts in, and the app's

    def __post_init__(self) -> None:
        if (self.memory_mb < 8 or self.cpus <= 0 or self.pids < 8 or self.tmp_mb < 1
                or self.work_mb < 1):
            raise UnsafeSpec(f"limits out of range: {self}")


@dataclass(frozen=True)
class ContainerRequest:
    """What a caller wants run. ``image`` is an image id (``sha256:…``) or reference."""

    service: str
    kind: Kind
    id: str
    attempt: int
    runtime: str
    image: str
    cmd: Sequence[str]
    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bool = False  # keep the main process's stdin open for one attach
    network: str | None = None  # a Docker network to join (sessions); None: no network
    owner: str = ""  # the process that made it (``solve/<instance>``); its sweeps touch only these
    serve_protocol: int = 1  # of the agent that is its main process (stdin): 2 sends files inline

    @property
    def name(self) -> str:
        return container_name(self.kind, self.id, self.attempt)


def container_name(kind: str, id_: str, attempt: int) -> str:
    """The deterministic name ``mp-{kind}-{id}-{attempt}``; raises UnsafeSpec on a bad id."""
    if not _ID.match(id_) or attempt < 0:
        raise UnsafeSpec(f"bad container id {id_!r} or attempt {attempt}")
    return f"mp-{kind}-{id_}-{attempt}"


def parse_container_name(name: str) -> tuple[str, str, int] | None:
    """``(kind, id, attempt)`` of a name made by :func:`container_name` (a warm container
    taken for a job is renamed to the job's name but keeps its ``warm`` labels, so the name is
    what tells whose it is); None for any other name."""
    found = _NAME.match(name.lstrip("/"))
    if found is None:
        return None
    return found["kind"], found["id"], int(found["attempt"])


def labels_for(request: ContainerRequest) -> dict[str, str]:
    """The labels that let a restarted service find, count and reconcile the container."""
    labels = {
        SERVICE: request.service,
        KIND: request.kind,
        ID: request.id,
        ATTEMPT: str(request.attempt),
        RUNTIME: request.runtime,
        MEMORY: str(request.limits.memory_mb),
    }
    if request.owner:
        labels[OWNER] = request.owner
    return labels


def check_env(env: Mapping[str, str]) -> list[str]:
    """``KEY=value`` strings; raises UnsafeSpec when a key looks like a secret."""
    bad = sorted(k for k in env if _SECRET.search(k))
    if bad:
        raise UnsafeSpec(f"secrets must not be passed in a container's environment: {bad}")
    return [f"{k}={v}" for k, v in env.items()]


def volume_spec(request: ContainerRequest) -> dict[str, Any]:
    """Create-volume body for the container's /work volume (same name and labels): a tmpfs of
    ``limits.work_mb`` owned by the container's user. Its pages count against the memory of
    whoever writes them (the container's own writes against its memory limit).

    Except a warm job container whose agent speaks serve protocol 1: its main process is the
    preloaded agent (``serve``, stdin open, no network), the run ends the container, and a
    tmpfs ends with it, before the worker copies the result out. Its /work is a disk volume
    without a size limit (docs/quotas.md). With protocol 2 the result leaves on stdout before
    the agent exits, so the tmpfs stays."""
    spec: dict[str, Any] = {"Name": request.name, "Labels": labels_for(request)}
    if request.stdin and request.network is None and request.serve_protocol < 2:
        return spec
    uid, gid = USER.split(":")
    options = f"size={request.limits.work_mb}m,uid={uid},gid={gid},mode=0700,nosuid,nodev"
    return {**spec, "Driver": "local",
            "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": options}}


def container_spec(request: ContainerRequest) -> dict[str, Any]:
    """The create-container body of the hardened container for ``request``."""
    lim = request.limits
    memory = lim.memory_mb * 1024 * 1024
    stdin = {"OpenStdin": True, "StdinOnce": True, "AttachStdin": True} if request.stdin else {}
    network = request.network or "none"
    return {
        **stdin,
        "Image": request.image,
        "Cmd": list(request.cmd),
        "User": USER,
        "WorkingDir": WORKDIR,
        "Env": check_env(request.env),
        "Labels": labels_for(request),
        "NetworkDisabled": request.network is None,
        "HostConfig": {
            "ReadonlyRootfs": True,
            "Tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={lim.tmp_mb}m"},
            "Mounts": [{"Type": "volume", "Source": request.name, "Target": WORKDIR}],
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges:true"],
            "Memory": memory,
            "MemorySwap": memory,
            "NanoCpus": int(lim.cpus * 1e9),
            "PidsLimit": lim.pids,
            "NetworkMode": network,
            "Privileged": False,
            "RestartPolicy": {"Name": "no"},
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "2"}},
        },
    }
