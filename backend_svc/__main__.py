"""``python -m backend_svc``: run the backend until SIGTERM; ``python -m backend_svc admin …``:
administer it on its database (see :mod:`backend_svc.admin`)."""

import asyncio
import sys

from backend_svc.service import BackendService
from backend_svc.settings import BackendSettings
from common.logging import configure_logging
from common.service import serve_until_signalled


def main() -> int:
    if sys.argv[1:2] == ["admin"]:
        from backend_svc.admin import main as admin_main

        return admin_main(sys.argv[2:])
    settings = BackendSettings()
    configure_logging(settings.log_format, settings.log_level, service="backend")
    return asyncio.run(serve_until_signalled(BackendService(settings)))


if __name__ == "__main__":
    sys.exit(main())
