"""The Docker host pool shared by solve_svc and session_svc.

- :mod:`settings` — ``MODELPORT_DOCKER_*`` (hosts as a JSON list, health, warm pool size)
- :mod:`host` — :class:`DockerHost`: one engine, ping, what our service runs on it
- :mod:`placement` — :func:`choose_host`: pure, least-loaded healthy host with room
- :mod:`pool` — :class:`HostPool`: health loop and reservations over the hosts
- :mod:`spec` — hardened container specs, deterministic names and labels (pure)
- :mod:`containers` — create+start, put_archive, exec, logs, wait, kill, remove, sweep
- :mod:`images` — :func:`ensure_image`: ``docker load`` from a runtime package, no registry
- :mod:`warm` — :class:`WarmPool`: idle pre-started containers per runtime
"""

from common.docker.containers import (
    Container,
    ExecResult,
    ExitStatus,
    LogLine,
    adopt_or_sweep,
    create_started,
    exec_run,
    found,
    kill,
    logs,
    put_archive,
    remove,
    sweep_owned,
    wait,
)
from common.docker.errors import BadPackage, ExecTimeout, ImageMismatch, NoCapacity, UnsafeSpec
from common.docker.host import DockerHost
from common.docker.images import ensure_image, has_image
from common.docker.placement import HostState, Need, choose_host
from common.docker.pool import HostPool, Reservation
from common.docker.settings import DockerSettings, HostConfig
from common.docker.spec import ContainerRequest, Limits, container_name, container_spec
from common.docker.warm import WarmPool

__all__ = [
    "BadPackage", "Container", "ContainerRequest", "DockerHost", "DockerSettings",
    "ExecResult", "ExecTimeout", "ExitStatus", "HostConfig", "HostPool", "HostState",
    "ImageMismatch", "Limits", "LogLine", "Need", "NoCapacity", "Reservation", "UnsafeSpec",
    "WarmPool", "adopt_or_sweep", "choose_host", "container_name", "container_spec",
    "create_started", "ensure_image", "exec_run", "found", "has_image", "kill", "logs",
    "put_archive", "remove", "sweep_owned", "wait",
]
