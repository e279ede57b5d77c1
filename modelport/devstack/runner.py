"""``dev up`` and ``dev down`` as functions returning an exit status (the CLI is a thin edge)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from modelport.devstack import broker, plan, procs
from modelport.devstack.stack import (
    S3_NAME,
    S3_STOP_TIMEOUT_S,
    Stack,
    StartupFailed,
    stop_on_signals,
)
from modelport.devstack.state import StateDir


@dataclass(frozen=True)
class UpOptions:
    """The knobs of ``dev up`` (see ``modelport dev up --help``)."""

    state_dir: Path
    detach: bool = False
    portal_port: int = 8080
    free_ports: bool = False
    wait_s: float = 120.0
    stop_timeout_s: float = 30.0


class UpRefused(Exception):
    """``dev up`` cannot start: something already runs or a port is taken."""


def _check_free(state: StateDir, ports: Mapping[str, int]) -> None:
    record = state.read_record()
    if record is not None:
        if any(procs.is_running(p) for p in record.processes):
            raise UpRefused(f"a stack already runs from {state.root}; `modelport dev down` first")
        state.clear_record()
    busy = plan.busy_ports(ports)
    if busy:
        taken = ", ".join(f"{name} {port}" for name, port in busy.items())
        raise UpRefused(f"ports already in use: {taken} (try --free-ports or --port)")


def _specs(stack: Stack, opts: UpOptions, env: Mapping[str, str]) -> list[plan.ServiceSpec]:
    ports = plan.choose_ports(opts.portal_port, free_ports=opts.free_ports)
    _check_free(stack.state, ports)
    shared = {}
    if not env.get("MODELPORT_S3_ENDPOINT_URL"):
        shared["MODELPORT_S3_ENDPOINT_URL"] = stack.start_s3()
    cookie = env.get("MODELPORT_COOKIE_SECRET") or stack.state.cookie_secret()
    keyed = _key_env(stack, env)
    return plan.build_specs(ports, env, shared, {"MODELPORT_COOKIE_SECRET": cookie}, keyed,
                            _broker_env(stack, env))


def _broker_env(stack: Stack, env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each service's own broker user and the role map (unless the environment sets roles)."""
    try:
        made = broker.make(stack.state.root, env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"cannot create the stack's broker users with rabbitmqctl "
                           f"(set {broker.RABBITMQCTL_ENV}, or MODELPORT_BROKER_ROLES to "
                           f"manage them yourself): {exc}") from None
    if made is None:
        stack.err.print("broker users: managed by the caller (MODELPORT_BROKER_ROLES is set)")
        return {}
    names = ", ".join(u.name for u in made.users)
    stack.err.print(f"broker users: {names} (caller checks on; passwords in "
                    f"{escape(str(stack.state.root / broker.FILE))})")
    return {name: made.env_for(name, env) for name, _, _ in plan.SERVICES}


def _forget_broker_users(state: StateDir, env: Mapping[str, str], err: Console) -> None:
    """Delete the stack's broker users once its services are stopped (best effort)."""
    try:
        removed = broker.remove(state.root, env)
    except (OSError, subprocess.SubprocessError) as exc:
        err.print(f"[yellow]warning:[/] broker users not deleted: {escape(str(exc))}")
        return
    if removed:
        err.print(f"broker users deleted: {', '.join(removed)}")


def _key_env(stack: Stack, env: Mapping[str, str]) -> dict[str, str]:
    """The stack's own platform key and trusted publisher, unless the environment names others."""
    keys = stack.state.keys()
    keyed = {}
    if not env.get("MODELPORT_PLATFORM_KEY_FILE"):
        keyed["MODELPORT_PLATFORM_KEY_FILE"] = str(keys.platform_key)
    if not env.get("MODELPORT_TRUSTED_KEYS"):
        keyed["MODELPORT_TRUSTED_KEYS"] = str(keys.trusted_dir)
        key = escape(str(keys.publisher_key))
        stack.err.print(f"publisher key trusted by this stack: {key} "
                        f"(sign runtimes with `modelport runtime pack --key {key}`)")
    return keyed


def up(opts: UpOptions, out: Console, err: Console, env: Mapping[str, str] | None = None) -> int:
    """Start the stack and wait until it is ready. Detached: return 0 with the URL printed.
    Foreground: stream logs until Ctrl-C/SIGTERM (0) or a service dies (1). 1 on failure."""
    env = dict(os.environ if env is None else env)
    state = StateDir(opts.state_dir)
    state.prepare()
    stack = Stack(state, detach=opts.detach, out=out, err=err)
    with stop_on_signals(stack.stopping.set):
        try:
            specs = _specs(stack, opts, env)
            url = plan.portal_url(env, next(s.port for s in specs if s.name == "portal"))
            stack.start_services(specs)
            stack.record(url)
            stack.wait_ready(specs, opts.wait_s)
        except UpRefused as exc:  # raised before anything started
            err.print(f"[red]error:[/] {escape(str(exc))}")
            return 1
        except (StartupFailed, OSError, RuntimeError, TimeoutError) as exc:
            _report_failure(state, exc, err)
            stack.stop(opts.stop_timeout_s)
            _forget_broker_users(state, env, err)
            return 1
        code = _serve(stack, url, opts, out, err)
        if not opts.detach:
            _forget_broker_users(state, env, err)
        return code


def _serve(stack: Stack, url: str, opts: UpOptions, out: Console, err: Console) -> int:
    if opts.detach:
        out.print(url, highlight=False)
        err.print(f"stack running; stop it with `modelport dev down --state-dir {opts.state_dir}`")
        return 0
    err.print(f"[bold green]portal ready:[/] {url}  (Ctrl-C stops everything)")
    code = stack.watch()
    err.print("stopping…")
    stack.stop(opts.stop_timeout_s)
    return code


def _report_failure(state: StateDir, exc: Exception, err: Console) -> None:
    name = exc.name if isinstance(exc, StartupFailed) else S3_NAME
    err.print(f"[red]error:[/] {escape(str(exc))}")
    tail = state.log_tail(name)
    if tail:
        err.print(f"[bold]last lines of {state.log_file(name)}:[/]")
        err.print(escape(tail), highlight=False)
    err.print("stopping everything that was started")


def down(state_dir: Path, err: Console, *, timeout_s: float = 30.0,
         env: Mapping[str, str] | None = None) -> int:
    """Stop what ``dev up --detach`` started under ``state_dir``; 0 also when nothing ran."""
    state = StateDir(state_dir)
    record = state.read_record()
    running = [p for p in record.processes if procs.is_running(p)] if record else []
    env = dict(os.environ if env is None else env)
    if not running:
        err.print(f"nothing is running from {state.root}")
        state.clear_record()
        _forget_broker_users(state, env, err)
        return 0
    services = [p for p in running if p.name != S3_NAME]
    s3 = [p for p in running if p.name == S3_NAME]
    killed = procs.stop_all(services, timeout_s)
    procs.stop_all(s3, S3_STOP_TIMEOUT_S)  # usually killed: see S3_STOP_TIMEOUT_S
    state.clear_record()
    err.print("stopped: " + ", ".join(p.name for p in running))
    _forget_broker_users(state, env, err)
    if killed:
        err.print(f"killed after their stop deadline: {', '.join(killed)}")
    return 0
