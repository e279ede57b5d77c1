"""``python -m backend_svc``: run the backend until SIGTERM."""

import sys

import uvloop

from backend_svc.service import BackendService
from backend_svc.settings import BackendSettings
from common.logging import configure_logging
from common.service import serve_until_signalled


def main() -> int:
    settings = BackendSettings()
    configure_logging(settings.log_format, settings.log_level, service="backend")
    return uvloop.run(serve_until_signalled(BackendService(settings)))


if __name__ == "__main__":
    sys.exit(main())
