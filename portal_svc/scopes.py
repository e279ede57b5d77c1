"""What a token's scope lets its holder ask, decided here for every door of the portal.

:func:`check` runs in :func:`portal_svc.auth.resolve`, the one function every authenticated
request passes (the API, the live streams, the upload and download views, the pages, the
session proxy), with the route the request matched. The table (docs/security.md, "Token
scopes"):

- ``read``: the safe methods (GET, HEAD) of the API and the live streams, and signing out
  the token itself;
- ``jobs``: ``read`` plus submitting, cancelling and interrupting jobs and uploading cases
  (downloads are GETs already);
- ``full``: everything the user may do. Token management, password changes and the session
  proxy (``/s/{id}/…``, where a session acts as its owner) need ``full``; the browser's
  sign-in tokens are always ``full``.

A route added later falls under the default: safe methods need ``read``, anything else
``full``.
"""

from __future__ import annotations

from aiohttp import web

from common.contracts.users import Scope
from common.errors import BadRequest, Forbidden

RANK: dict[Scope, int] = {"read": 0, "jobs": 1, "full": 2}
SAFE_METHODS = frozenset({"GET", "HEAD"})
JOBS_WRITES = frozenset({
    ("POST", "/api/v1/jobs"),
    ("POST", "/api/v1/jobs/{job_id}/cancel"),
    ("POST", "/api/v1/jobs/{job_id}/interrupt"),
    ("POST", "/api/v1/cases"),
})
ANY_SCOPE = frozenset({("POST", "/api/v1/auth/logout")})
SESSION_PROXY = "/s/"
FULL_ONLY_PREFIXES = ("/api/v1/tokens", "/api/v1/me/password", SESSION_PROXY)
QUERY_TOKEN_NAMES = frozenset({"access_token", "token", "api_key", "apikey", "bearer"})
TOKEN_PREFIX = "mp_"


def required(method: str, route: str) -> Scope:
    """The least scope for ``method`` on ``route`` (the path template, such as
    ``/api/v1/jobs/{job_id}/cancel``)."""
    if (method, route) in ANY_SCOPE:
        return "read"
    if route.startswith(FULL_ONLY_PREFIXES):
        return "full"
    if method in SAFE_METHODS:
        return "read"
    if (method, route) in JOBS_WRITES:
        return "jobs"
    return "full"


def route_of(request: web.Request) -> str:
    """The path template the request matched (its path when none)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def check(request: web.Request, scope: Scope) -> None:
    """Raise Forbidden ``insufficient_scope`` unless ``scope`` allows this request."""
    needed = required(request.method, route_of(request))
    if RANK[scope] < RANK[needed]:
        raise Forbidden(f"this token's scope is {scope!r}; {request.method} "
                        f"{route_of(request)} needs {needed!r}", code="insufficient_scope")


def refuse_token_in_query(request: web.Request) -> None:
    """Tokens travel in the Authorization header only: a URL ends up in logs, histories and
    Referer headers. BadRequest ``token_in_query`` for one in the query string. The session
    proxy is left out: a query there is the app's own (forwarded as is), never read as a
    credential."""
    if request.path.startswith(SESSION_PROXY):
        return
    for name, value in request.query.items():
        if name.lower() in QUERY_TOKEN_NAMES or value.startswith(TOKEN_PREFIX):
            raise BadRequest("send the token in the Authorization header, never in the URL",
                             code="token_in_query")
