"""``python -m solve_svc``: load settings, configure logging, serve until SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from common.logging import configure_logging
from common.service import serve_until_signalled
from solve_svc.service import SolveService
from solve_svc.settings import SolveSettings


def main() -> int:
    """Run the service; return its exit status (0 after a clean stop)."""
    settings = SolveSettings()
    configure_logging(settings.log_format, settings.log_level, service="solve")
    return asyncio.run(serve_until_signalled(SolveService(settings)))


if __name__ == "__main__":
    sys.exit(main())
