"""The scope table (docs/security.md, "Token scopes") against every API operation: what each
scope reaches, that the table names only routes that exist, and that the OpenAPI document
shows each operation's scope."""

from __future__ import annotations

from portal_svc import scopes
from portal_svc.api import OPERATIONS
from portal_svc.openapi import openapi_document

AUTHENTICATED = [op for op in OPERATIONS if op.auth]


def test_read_reaches_the_safe_methods_and_its_own_sign_out_only() -> None:
    read = {(op.method, op.path) for op in AUTHENTICATED if op.scope == "read"}
    assert read == {(op.method, op.path) for op in AUTHENTICATED
                    if op.method == "GET" and not op.path.startswith("/api/v1/tokens")
                    } | {("POST", "/api/v1/auth/logout")}
    assert ("GET", "/api/v1/events/jobs") in read  # the live stream


def test_jobs_adds_job_control_and_case_uploads_only() -> None:
    jobs = {(op.method, op.path) for op in AUTHENTICATED if op.scope == "jobs"}
    assert jobs == set(scopes.JOBS_WRITES)  # every entry names a real operation
    assert jobs == {("POST", "/api/v1/jobs"), ("POST", "/api/v1/jobs/{job_id}/cancel"),
                    ("POST", "/api/v1/jobs/{job_id}/interrupt"), ("POST", "/api/v1/cases")}


def test_token_management_password_and_the_proxy_need_full() -> None:
    full = {(op.method, op.path) for op in AUTHENTICATED if op.scope == "full"}
    for needed in (("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
                   ("DELETE", "/api/v1/tokens/{token_id}"), ("POST", "/api/v1/me/password"),
                   ("POST", "/api/v1/auth/sign-out-everywhere"), ("POST", "/api/v1/sessions")):
        assert needed in full, needed
    for method in ("GET", "POST", "DELETE"):
        assert scopes.required(method, "/s/{session_id}/{tail}") == "full"
    assert scopes.required("PUT", "/api/v1/some/new/route") == "full"  # the default
    assert scopes.required("GET", "/api/v1/some/new/route") == "read"


def test_the_document_shows_each_scope() -> None:
    doc = openapi_document(OPERATIONS, title="t", version="1", server_url="")
    for op in AUTHENTICATED:
        described = doc["paths"][op.path][op.method.lower()]
        assert described["x-modelport-scope"] == op.scope
        assert ("403" in described["responses"]) or op.scope == "read"
