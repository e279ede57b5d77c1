"""The portal's aiohttp application, built by :func:`make_app` from settings and a backend.

The factory opens nothing: the caller owns the backend client (and its AMQP connection), so
tests can serve the same app through ``aiohttp_client``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from common.health import add_health_routes
from common.metrics import ServiceMetrics, add_metrics_route
from portal_svc import api, middlewares, openapi, proxy, web_session
from portal_svc.appkeys import BACKEND, OPERATIONS, SETTINGS, STORES
from portal_svc.backend_client import BackendClient
from portal_svc.files.bucket import PortalStorage
from portal_svc.files.stores import Stores
from portal_svc.files.trust import PackageKeys
from portal_svc.list_cache import LIST_CACHE, ListCache, drop_after_writes
from portal_svc.live import jobs as live
from portal_svc.live.revocation import OPEN_STREAMS, OpenStreams, recheck_streams
from portal_svc.pages import account as account_pages
from portal_svc.pages import admin as admin_pages
from portal_svc.pages import admin_apps as admin_apps_pages
from portal_svc.pages import admin_usage as admin_usage_pages
from portal_svc.pages import admin_work as admin_work_pages
from portal_svc.pages import cases as case_pages
from portal_svc.pages import jobs as jobs_pages
from portal_svc.pages import oidc as oidc_pages
from portal_svc.pages import registry as registry_pages
from portal_svc.pages import sessions as session_pages
from portal_svc.pages import site as pages
from portal_svc.settings import PortalSettings
from portal_svc.throttle import LOGIN_THROTTLE, LoginThrottle
from portal_svc.token_cache import TOKEN_CACHE, TokenCache
from portal_svc.transport import TRANSPORT, Transport

SERVICE = "portal"
STATIC_DIR = Path(__file__).parent / "static"


def sentence(text: str) -> str:
    """Jinja filter: a message with its first letter capitalised, for display on a page."""
    return text[:1].upper() + text[1:]


def make_app(
    settings: PortalSettings, backend: BackendClient, *,
    storage: PortalStorage | None = None, keys: PackageKeys | None = None,
    metrics: ServiceMetrics | None = None,
) -> web.Application:
    """The portal app: API, pages, static files, health views and ``/metrics``, wired to
    ``backend``.

    With ``storage`` and ``keys`` it also takes uploads and serves downloads; without them
    those views answer 503 ``storage_unavailable``. ``metrics`` is the instance's registry
    (a fresh one when not given).
    """
    metrics = metrics or ServiceMetrics(SERVICE)
    app = web.Application(
        client_max_size=settings.max_body_kb * 1024,
        middlewares=[
            metrics.http.middleware,
            middlewares.request_id_middleware,
            middlewares.error_middleware,
            web_session.session_middleware_for(settings),
            drop_after_writes,
        ],
    )
    app[SETTINGS] = settings
    app[BACKEND] = backend
    app[TOKEN_CACHE] = TokenCache()
    app[LIST_CACHE] = ListCache(settings.list_cache_ttl_s,  # fed by PortalService's events
                                jobs_ttl_s=settings.jobs_cache_ttl_s,
                                max_entries=settings.list_cache_entries)
    app[OPEN_STREAMS] = OpenStreams(app[TOKEN_CACHE])  # fed by PortalService's revocations
    app[TRANSPORT] = Transport(settings)
    app.cleanup_ctx.append(recheck_streams)
    app[LOGIN_THROTTLE] = LoginThrottle(settings.login_ip_limit, settings.login_ip_window_s)
    app[OPERATIONS] = api.OPERATIONS
    app[live.JOB_HUB] = live.JobEventHub()  # fed by PortalService's JobEventConsumer
    app.on_shutdown.append(_close_job_hub)
    if storage is not None and keys is not None:
        app[STORES] = Stores.build(storage, backend, keys)
    aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("portal_svc", "templates"), default_helpers=False,
        filters={"sentence": sentence},
    )
    app.on_response_prepare.append(middlewares.add_headers)
    openapi.install(app, api.OPERATIONS)
    app.router.add_routes(pages.routes)
    oidc_pages.setup(app)
    app.router.add_routes(registry_pages.routes)
    app.router.add_routes(case_pages.routes)
    app.router.add_routes(jobs_pages.routes)
    app.router.add_routes(session_pages.routes)
    app.router.add_routes(account_pages.routes)
    app.router.add_routes(admin_usage_pages.routes)
    app.router.add_routes(admin_pages.routes)
    app.router.add_routes(admin_apps_pages.routes)
    app.router.add_routes(admin_work_pages.routes)
    proxy.setup(app, settings.cookie_secret.get_secret_value())
    app.router.add_static("/static/", STATIC_DIR, name="static")
    add_health_routes(app, SERVICE, _readiness(backend, storage))
    add_metrics_route(app, metrics, settings.metrics_token.get_secret_value())
    return app


async def _close_job_hub(app: web.Application) -> None:
    """End live event streams first, so shutting down does not wait for them."""
    app[live.JOB_HUB].close()


def _readiness(
    backend: BackendClient, storage: PortalStorage | None
) -> Callable[[], Awaitable[dict[str, bool]]]:
    """``/readyz`` checks: the backend's, plus S3 when the app has storage."""

    async def check() -> dict[str, bool]:
        checks = await backend.readiness()
        if storage is not None:
            checks["s3"] = await storage.ping()
        return checks

    return check
