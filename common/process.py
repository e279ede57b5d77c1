"""Child processes that must not outlive their parent."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child: Linux sends it SIGKILL when the thread that started it exits (a parent
    killed with -9 included), so no orphan keeps the parent's pipes or work alive."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
