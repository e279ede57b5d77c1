"""``python -m portal_svc``: run the portal until SIGTERM."""

from __future__ import annotations

import sys

import uvloop

from common.logging import configure_logging
from common.service import serve_until_signalled
from portal_svc.service import PortalService
from portal_svc.settings import PortalSettings


def main() -> None:
    settings = PortalSettings()
    configure_logging(settings.log_format, settings.log_level, service="portal")
    sys.exit(uvloop.run(serve_until_signalled(PortalService(settings))))


if __name__ == "__main__":
    main()
