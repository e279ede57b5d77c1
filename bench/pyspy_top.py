"""Summarise a py-spy ``--format raw`` profile: the functions holding the most samples.

    .venv/bin/python bench/pyspy_top.py PROFILE.txt [--top 25]

Prints, for the top functions, the share of samples in which each is on the stack (inclusive)
and at the top of it (self), skipping the event loop's own idle wait.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

IDLE = ("select (selectors.py", "poll (selectors.py")  # the event loop waiting for I/O


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        if any(i in frames[-1] for i in IDLE):
            idle += n
            continue
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    busy = max(1, total - idle)
    print(f"{args.profile.name}: {total} samples, {idle} idle in the event loop's wait; "
          f"shares below are of the {busy} busy ones")
    print("  inclusive  self  function")
    for frame, n in inclusive.most_common(args.top):
        print(f"  {n * 100 / busy:8.1f}% {own[frame] * 100 / busy:5.1f}%  {frame[:110]}")


if __name__ == "__main__":
    main()
