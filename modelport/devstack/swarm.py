"""docker-compose.yml as a Docker Swarm stack (``deploy/swarm.sh``, docs/deploy.md).

Docker's ``docker stack deploy`` reads the older Compose file format 3, not the Compose
Specification docker-compose.yml is written in (``depends_on`` conditions, ``group_add``,
host addresses on ports, one-shot services). :func:`render` takes the file as ``docker compose
config --format json`` resolved it (``.env`` applied) and returns the same services for a
stack:

- the four services get ``replicas`` and a restart policy; the infrastructure is pinned by a
  placement constraint (where its volumes live) and runs one replica;
- the ``secrets`` volumes become Swarm secrets, made from the files of
  :mod:`modelport.devstack.secrets` (same names, same readers: each service gets the secrets of
  the folders it mounted), private keys readable by uid 10001 alone;
- the one-shot ``secrets`` and ``runtime`` services go (Swarm makes the secrets; the runtime
  image must be on the node that runs ``bootstrap``), ``bootstrap`` runs until it succeeds;
- ``group_add`` becomes the service's group (stack files know no ``group_add``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.devstack import secrets as stack_secrets

SERVICES = ("backend", "portal", "session", "solve")
INFRA = ("postgres", "rabbitmq", "s3")
DROPPED = ("secrets", "runtime")
UNSUPPORTED = ("build", "depends_on", "pull_policy", "restart", "profiles", "group_add",
               "network_mode", "container_name")
SECRET_VOLUME_PREFIX = "secrets-"
PRIVATE = {"platform_key", "publisher_key"}
SERVICE_UID = "10001"

Spec = dict[str, Any]


def secret_files() -> dict[str, tuple[str, ...]]:
    """Every file the secrets step writes → the folders holding it."""
    files = {s.name: s.folders for s in stack_secrets.SECRETS}
    files |= {"rabbitmq.conf": (stack_secrets.BROKER,), "s3.json": (stack_secrets.S3,),
              "definitions.json": (stack_secrets.BROKER,),
              "publisher.pub": (stack_secrets.PLATFORM,)}
    return files


def _secret_refs(folders: list[str], stack: str) -> list[Spec]:
    refs = []
    for name, homes in sorted(secret_files().items()):
        if any(f in homes for f in folders):
            ref: Spec = {"source": _secret_name(name), "target": name}
            if not set(homes) & {stack_secrets.DB, stack_secrets.BROKER, stack_secrets.S3}:
                ref |= {"uid": SERVICE_UID, "gid": SERVICE_UID,
                        "mode": 0o400 if name in PRIVATE else 0o440}
            else:
                ref["mode"] = 0o444
            refs.append(ref)
    return refs


def _secret_name(file: str) -> str:
    return "mp_" + file.replace(".", "_")


@dataclass(frozen=True)
class Modes:
    """How the stack's network works: ``vip``/``ingress`` (Swarm's defaults, which need the
    kernel's IPVS) or ``dnsrr``/``host`` for kernels without it. In ``host`` mode a service
    with several replicas on one node cannot share a port: each task gets a free host port
    (``docker ps`` shows it) instead of the published one."""

    replicas: int = 2
    infra_constraint: str = "node.role == manager"
    endpoint_mode: str = "vip"
    port_mode: str = "ingress"


def _ports(ports: list[Spec], modes: Modes, replicas: int) -> list[Spec]:
    """Long-syntax ports without ``host_ip`` (a Swarm publishes on every address)."""
    out = []
    for port in ports:
        spec = {"target": int(port["target"]), "protocol": port.get("protocol", "tcp"),
                "mode": modes.port_mode}
        if modes.port_mode == "ingress" or replicas == 1:
            spec["published"] = int(port["published"])
        out.append(spec)
    return out


def _service(name: str, spec: Spec, *, modes: Modes, stack: str) -> Spec:
    out = {k: v for k, v in spec.items() if k not in UNSUPPORTED and v is not None}
    mounts = out.pop("volumes", [])
    folders = [m["source"].removeprefix(SECRET_VOLUME_PREFIX) for m in mounts
               if m.get("type") == "volume" and m["source"].startswith(SECRET_VOLUME_PREFIX)]
    out["volumes"] = [{k: v for k, v in m.items() if k != "bind"} for m in mounts
                      if not m["source"].startswith(SECRET_VOLUME_PREFIX)]
    if not out["volumes"]:
        del out["volumes"]
    if folders:
        out["secrets"] = _secret_refs(folders, stack)
        out.setdefault("environment", {})["MODELPORT_SECRETS_DIRS"] = "/run/secrets"
    if spec.get("group_add"):
        out["user"] = f"{SERVICE_UID}:{spec['group_add'][0]}"
    out["deploy"] = _deploy(name, modes)
    if "ports" in out:
        out["ports"] = _ports(out["ports"], modes, out["deploy"]["replicas"])
    return out


def _deploy(name: str, modes: Modes) -> Spec:
    pinned = {"placement": {"constraints": [modes.infra_constraint]},
              "endpoint_mode": modes.endpoint_mode}
    if name in INFRA:
        return {"replicas": 1, **pinned, "restart_policy": {"condition": "any"}}
    if name == "bootstrap":
        return {"replicas": 1, **pinned,
                "restart_policy": {"condition": "on-failure", "max_attempts": 5}}
    return {"replicas": modes.replicas if name in SERVICES else 1,
            "endpoint_mode": modes.endpoint_mode, "restart_policy": {"condition": "any"},
            "update_config": {"order": "start-first"}}


def render(config: Mapping[str, Any], *, stack: str, modes: Modes | None = None) -> Spec:
    """The stack file (a dict; JSON is valid YAML) for ``docker stack deploy``."""
    modes = modes or Modes()
    services = {
        name: _service(name, spec, modes=modes, stack=stack)
        for name, spec in config["services"].items() if name not in DROPPED
    }
    volumes: Spec = {name: {} for name in config.get("volumes", {})
               if not name.startswith(SECRET_VOLUME_PREFIX)}
    used = {ref["source"] for s in services.values() for ref in s.get("secrets", [])}
    secrets = {name: {"external": True, "name": f"{stack}_{name}"} for name in sorted(used)}
    return {"version": "3.8", "services": services, "volumes": volumes, "secrets": secrets}


def create_secrets(folder: Path, stack: str) -> list[str]:
    """``docker secret create`` each file of ``folder`` as ``<stack>_mp_<name>`` unless it
    exists; return the names created."""
    have = set(subprocess.run(["docker", "secret", "ls", "--format", "{{.Name}}"], check=True,
                              capture_output=True, text=True).stdout.split())
    made = []
    for file in sorted(secret_files()):
        name = f"{stack}_{_secret_name(file)}"
        if name not in have:
            subprocess.run(["docker", "secret", "create", "--label", f"org.modelport.stack={stack}",
                            name, str(folder / file)], check=True, capture_output=True)
            made.append(name)
    return made


def main(argv: list[str] | None = None) -> int:
    """``render STACK < config.json > stack.json`` or ``secrets STACK FOLDER``."""
    parser = argparse.ArgumentParser(prog="python -m modelport.devstack.swarm")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("render", help="compose config JSON (stdin) → stack file (stdout)")
    make.add_argument("stack")
    make.add_argument("--replicas", type=int, default=2)
    make.add_argument("--infra-constraint", default="node.role == manager")
    make.add_argument("--endpoint-mode", choices=("vip", "dnsrr"), default="vip")
    make.add_argument("--port-mode", choices=("ingress", "host"), default="ingress")
    sec = sub.add_parser("secrets", help="create the stack's Swarm secrets from FOLDER")
    sec.add_argument("stack")
    sec.add_argument("folder", type=Path)
    opts = parser.parse_args(argv)
    if opts.command == "render":
        modes = Modes(opts.replicas, opts.infra_constraint, opts.endpoint_mode, opts.port_mode)
        spec = render(json.load(sys.stdin), stack=opts.stack, modes=modes)
        json.dump(spec, sys.stdout, indent=2)
        return 0
    for name in create_secrets(opts.folder, opts.stack):
        print(f"secret {name} created", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
