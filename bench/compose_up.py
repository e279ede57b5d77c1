"""How long `docker compose up` takes to a platform that is ready to use. Prints figures only.

    .venv/bin/python bench/compose_up.py

Measures, on this machine, with the images built here (deploy/build-images.sh, no registry):

1. ``build``: deploy/build-images.sh when every image is cached (a cold build is timed by
   running it after removing the images, which this script does not do: it would take the
   images from under other users of the engine);
2. ``cold``: ``docker compose up -d`` on fresh volumes until ``bootstrap`` has published the
   examples (secrets made, database and broker initialised, runtime signed and uploaded);
3. ``warm``: ``down`` (volumes kept) and ``up -d`` again until ``bootstrap`` is done (all
   registered already);
then takes the stack down with its volumes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.deploy.stack import ComposeStack, build_images, seconds_since  # noqa: E402


def main() -> None:
    started = time.monotonic()
    images = build_images()
    build_s = seconds_since(started)
    stack = ComposeStack(images)
    try:
        started = time.monotonic()
        stack.up()
        cold_s = seconds_since(started)
        stack.compose("down", "--timeout", "20")
        started = time.monotonic()
        stack.up()
        warm_s = seconds_since(started)
    finally:
        stack.down()
    print(f"images (cached): {build_s} s")
    print(f"compose up, fresh volumes -> examples published: {cold_s} s")
    print(f"compose up, existing volumes -> bootstrap done: {warm_s} s")
    print(f"compose_up: build_cached_s={build_s} cold_s={cold_s} warm_s={warm_s}")


if __name__ == "__main__":
    main()
