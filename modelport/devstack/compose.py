"""The service image's own commands in a compose or Swarm stack (docs/deploy.md)::

    python -m modelport.devstack.compose secrets OUT_DIR   # first step: make the secrets
    python -m modelport.devstack.compose exec -- CMD...    # the entrypoint of every service
    python -m modelport.devstack.compose bootstrap         # one-shot: runtime, examples, log-in
    python -m modelport.devstack.compose ready URL         # health check: exit 0 on HTTP 200

``secrets`` writes into ``OUT_DIR/<folder>`` for each folder of
:data:`modelport.devstack.secrets.FOLDERS` that exists there (compose mounts one volume per
folder), or into ``OUT_DIR`` itself when ``--flat`` (one folder, for Swarm secrets).
Imports are deferred so that ``ready``, run every few seconds, stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _secrets(out: Path, flat: bool) -> int:
    from modelport.devstack import secrets

    folders = {name: out if flat else out / name for name in secrets.FOLDERS}
    missing = [str(p) for p in folders.values() if not p.is_dir()]
    if missing:
        print(f"secrets: missing folders: {', '.join(missing)}", file=sys.stderr)
        return 2
    done = secrets.ensure(folders, os.environ)
    print(f"secrets: generated {', '.join(done.generated) or 'none'}; "
          f"given {', '.join(done.given) or 'none'}; the rest kept from an earlier start")
    return 0


def _bootstrap() -> int:
    import asyncio

    from modelport.client import ClientError
    from modelport.devstack.bootstrap import BootstrapSettings, banner, bootstrap

    cfg = BootstrapSettings()
    try:
        asyncio.run(bootstrap(cfg, lambda line: print(f"bootstrap: {line}", flush=True)))
    except (ClientError, TimeoutError) as exc:
        print(f"bootstrap: FAILED: {exc}", file=sys.stderr)
        return 1
    for line in banner(cfg, Path(cfg.publisher_key_file).parent):
        print(line, flush=True)
    return 0


def _ready(url: str) -> int:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status of the process."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["exec"]:
        from modelport.devstack.container import exec_service

        exec_service(args[2:] if args[1:2] == ["--"] else args[1:])
    parser = argparse.ArgumentParser(prog="python -m modelport.devstack.compose")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("secrets", help="make or keep the stack's secrets")
    make.add_argument("out", type=Path)
    make.add_argument("--flat", action="store_true", help="one folder for every secret")
    sub.add_parser("bootstrap", help="register the runtime, publish the examples")
    ready = sub.add_parser("ready", help="exit 0 when URL answers 200")
    ready.add_argument("url")
    opts = parser.parse_args(args)
    if opts.command == "secrets":
        return _secrets(opts.out, opts.flat)
    if opts.command == "bootstrap":
        return _bootstrap()
    return _ready(opts.url)


if __name__ == "__main__":
    sys.exit(main())
