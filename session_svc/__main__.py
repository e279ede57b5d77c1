"""``python -m session_svc``: load settings, configure logging, serve until SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from common.logging import configure_logging
from common.service import serve_until_signalled
from session_svc.service import SessionService
from session_svc.settings import SessionSettings


def main() -> int:
    """Run the service; return its exit status (0 after a clean stop)."""
    settings = SessionSettings()
    configure_logging(settings.log_format, settings.log_level, service="session")
    return asyncio.run(serve_until_signalled(SessionService(settings)))


if __name__ == "__main__":
    sys.exit(main())
