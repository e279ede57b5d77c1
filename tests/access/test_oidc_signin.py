"""OpenID Connect sign-in through the real portal and backend, against a provider on loopback
(tests/support/oidc_provider.py): the happy path, group sync, and every refusal — shown with
its reason, audited as ``signin.refused``, and changing nothing else."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from playwright.async_api import expect

from backend_svc.oidc import username_candidates
from backend_svc.service import BackendService
from common.contracts.method import BACKEND, PORTAL, SESSION_WORKER, SOLVE_WORKER
from common.contracts.methods import UserMethods
from common.contracts.oidc import VerifiedClaims
from common.errors import Forbidden
from common.settings import S3Settings
from portal_svc.service import PortalService
from tests.access import rights_world as rw
from tests.access.conftest import Identities, client_as
from tests.backend.conftest import backend_settings
from tests.backend.helpers import refused
from tests.portal.browser import ARTIFACTS, open_page
from tests.portal.conftest import portal_service
from tests.portal.uploads import OCTETS
from tests.support import db_state
from tests.support.oidc_provider import OidcProvider, ProviderUser
from tests.support.stack import running_stack

GROUP_MAP = {"engineering": "engineers", "operations": "operators"}


@dataclasses.dataclass
class Sso:
    idp: OidcProvider
    portal_url: str
    db: asyncpg.Connection
    http: aiohttp.ClientSession

    async def sign_in(self, change_callback: Callable[[str], str] = lambda url: url
                      ) -> tuple[int, str]:
        """Click "Sign in with…", let the provider answer, follow the callback: the status
        and body of the callback's answer (a 303 to the dashboard on success)."""
        async with self.http.get(f"{self.portal_url}/login/oidc", allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            authorize = r.headers["Location"]
        assert authorize.startswith(f"{self.idp.issuer}/authorize?")
        async with self.http.get(authorize, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            callback = change_callback(r.headers["Location"])
        async with self.http.get(callback, allow_redirects=False) as r:
            return r.status, await r.text()

    async def whoami(self) -> str:
        async with self.http.get(f"{self.portal_url}/", allow_redirects=False) as r:
            assert r.status == 200, r.headers.get("Location")
            return await r.text()

    async def state(self) -> dict[str, db_state.TableState]:
        """Every table but the audit log (which a refusal does write)."""
        found = await db_state.tables(self.db)
        return {name: value for name, value in found.items() if name != "audit_log"}

    async def last_refusal(self) -> dict[str, Any]:
        row = await self.db.fetchrow(
            "SELECT actor_name, detail FROM audit_log WHERE action = 'signin.refused' "
            "ORDER BY id DESC LIMIT 1")
        assert row is not None, "no signin.refused row"
        detail = row["detail"]
        return {"actor": row["actor_name"],
                **(json.loads(detail) if isinstance(detail, str) else detail)}

    async def memberships(self, username: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id "
            "JOIN users u ON u.id = m.user_id WHERE u.username = $1 ORDER BY 1", username)
        return [r["name"] for r in rows]


@asynccontextmanager
async def sso_stack(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, *,
                    create_users: bool = True) -> AsyncIterator[Sso]:
    async with OidcProvider() as idp:
        backend = BackendService(backend_settings(
            pg_dsn, amqp_url, oidc_create_users=create_users, oidc_group_map=GROUP_MAP))
        await backend.start()
        portal: PortalService | None = None
        try:
            portal = portal_service(
                amqp_url, s3_settings, oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                oidc_client_secret=idp.client_secret, oidc_provider_name="Test IdP")
            await portal.start()
            conn = await asyncpg.connect(pg_dsn)
            jar = aiohttp.CookieJar(unsafe=True)
            try:
                async with aiohttp.ClientSession(cookie_jar=jar) as http:
                    yield Sso(idp, f"http://127.0.0.1:{portal.port}", conn, http)
            finally:
                await conn.close()
        finally:
            if portal is not None:
                await portal.stop()
            await backend.stop()


@pytest.fixture
async def sso(pg_dsn: str, amqp_url: str, s3_settings: S3Settings) -> AsyncIterator[Sso]:
    async with sso_stack(pg_dsn, amqp_url, s3_settings) as stack:
        yield stack


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_first_sign_in_creates_the_user_and_syncs_groups(sso: Sso) -> None:
    page = await (await sso.http.get(f"{sso.portal_url}/login")).text()
    assert "Sign in with Test IdP" in page
    status, _ = await sso.sign_in()
    assert status == 303
    assert "Ada Lovelace" in await sso.whoami()
    row = await sso.db.fetchrow(
        "SELECT u.username, u.password_hash, i.issuer, i.email FROM user_identities i "
        "JOIN users u ON u.id = i.user_id WHERE i.subject = $1", sso.idp.user.sub)
    assert dict(row) == {"username": "ada", "password_hash": None, "issuer": sso.idp.issuer,
                         "email": "ada@example.org"}
    assert await sso.memberships("ada") == ["engineers"]

    # The next sign-in: the claim changed, the membership follows; a group no mapping names
    # is left alone; discovery and keys come from the cache.
    await sso.db.execute("INSERT INTO groups (name) VALUES ('hand-made')")
    await sso.db.execute("INSERT INTO memberships (group_id, user_id) SELECT g.id, u.id "
                         "FROM groups g, users u WHERE g.name = 'hand-made' AND u.username = 'ada'")
    sso.idp.user.groups = ["operations", "unmapped"]
    sso.http.cookie_jar.clear()
    status, _ = await sso.sign_in()
    assert status == 303
    assert await sso.memberships("ada") == ["hand-made", "operators"]
    assert await sso.db.fetchval("SELECT count(*) FROM users WHERE username LIKE 'ada%'") == 1
    assert (sso.idp.hits["discovery"], sso.idp.hits["jwks"]) == (1, 1)


async def test_an_identity_never_takes_over_an_account_by_name_or_email(sso: Sso) -> None:
    local_id = await sso.db.fetchval(
        "INSERT INTO users (username, display_name, password_hash) "
        "VALUES ('ada', 'Local Ada', 'x') RETURNING id")
    status, _ = await sso.sign_in()
    assert status == 303
    linked = await sso.db.fetchval("SELECT u.username FROM user_identities i JOIN users u "
                                   "ON u.id = i.user_id WHERE i.subject = $1", sso.idp.user.sub)
    assert linked == "ada-2"
    assert await sso.memberships("ada") == []  # the local account got nothing
    assert await sso.db.fetchval("SELECT display_name FROM users WHERE id = $1",
                                 local_id) == "Local Ada"


async def _refused(sso: Sso, *, expect_status: int, message: str, reason: str,
                   change: Callable[[str], str] = lambda url: url) -> dict[str, Any]:
    before = await sso.state()
    status, body = await sso.sign_in(change)
    assert status == expect_status, body
    assert message in body
    assert await sso.state() == before
    refusal = await sso.last_refusal()
    assert refusal["reason"] == reason
    async with sso.http.get(f"{sso.portal_url}/", allow_redirects=False) as r:
        assert r.status == 302  # still signed out
    return refusal


async def test_a_wrong_state_is_refused(sso: Sso) -> None:
    refusal = await _refused(sso, expect_status=400, reason="bad_state",
                             message="This sign-in did not start here or has expired",
                             change=lambda url: with_query(url, state="forged-state"))
    assert refusal["ip"] == "127.0.0.1"


async def test_a_callback_without_a_started_sign_in_is_refused(sso: Sso) -> None:
    status, _ = await sso.sign_in()
    assert status == 303
    first_code = sso.idp.codes_issued[-1]
    sso.http.cookie_jar.clear()
    before = await sso.state()
    async with sso.http.get(f"{sso.portal_url}/login/oidc/callback?code={first_code}&state=x",
                            allow_redirects=False) as r:
        assert r.status == 400
    assert await sso.state() == before
    assert (await sso.last_refusal())["reason"] == "bad_state"


async def test_a_replayed_code_is_refused(sso: Sso) -> None:
    status, _ = await sso.sign_in()
    assert status == 303
    used = sso.idp.codes_issued[-1]
    sso.http.cookie_jar.clear()
    refusal = await _refused(sso, expect_status=401, reason="code_rejected",
                             message="its code was used already",
                             change=lambda url: with_query(url, code=used))
    assert refusal["detail"] == "invalid_grant"


@pytest.mark.parametrize(("tamper", "what"), [
    ({"nonce": "another-nonce"}, "nonce"),
    ({"aud": "someone-else"}, "audience"),
    ({"iss": "http://127.0.0.1:1"}, "issuer"),
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
    ("forge", "signature"),
], ids=["nonce", "audience", "issuer", "expired", "signature"])
async def test_a_token_that_does_not_verify_is_refused(
    sso: Sso, tamper: dict[str, Any] | str, what: str
) -> None:
    if tamper == "forge":
        sso.idp.forge_signature = True
    else:
        assert isinstance(tamper, dict)
        sso.idp.tamper = tamper
    refusal = await _refused(sso, expect_status=401, reason="bad_token",
                             message=f"did not verify ({what})")
    assert refusal["detail"] == what
    assert await sso.db.fetchval("SELECT count(*) FROM user_identities") == 0


async def test_a_provider_error_is_refused(sso: Sso) -> None:
    await _refused(sso, expect_status=401, reason="provider_error",
                   message="The sign-in provider refused: access_denied",
                   change=lambda url: with_query(url, error="access_denied"))


async def test_an_unknown_user_is_refused_when_creation_is_off(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings
) -> None:
    async with sso_stack(pg_dsn, amqp_url, s3_settings, create_users=False) as sso:
        refusal = await _refused(sso, expect_status=403, reason="oidc_unknown_user",
                                 message="No Modelport account is linked to this sign-in")
        assert refusal["actor"] == "ada" and refusal["issuer"] == sso.idp.issuer
        assert await sso.db.fetchval("SELECT count(*) FROM users WHERE username <> 'admin'") == 0

        # Linked by an administrator (here: in the database), the same identity gets in.
        user_id = await sso.db.fetchval(
            "INSERT INTO users (username, password_hash) VALUES ('lovelace', NULL) RETURNING id")
        await sso.db.execute("INSERT INTO user_identities (issuer, subject, user_id) "
                             "VALUES ($1, $2, $3)", sso.idp.issuer, sso.idp.user.sub, user_id)
        sso.idp.user = ProviderUser(groups=[])
        status, _ = await sso.sign_in()
        assert status == 303
        assert "lovelace" in await sso.whoami()


async def test_an_sso_only_user_cannot_sign_in_with_a_password(sso: Sso) -> None:
    assert (await sso.sign_in())[0] == 303
    async with sso.http.post(f"{sso.portal_url}/api/v1/auth/login",
                             json={"username": "ada", "password": "anything-at-all"}) as r:
        assert r.status == 401


@pytest.mark.browser
async def test_chromium_clicks_sign_in_with_the_provider(sso: Sso) -> None:
    async for page in open_page():
        await page.goto(f"{sso.portal_url}/login")
        await page.screenshot(path=ARTIFACTS / "oidc-login.png", full_page=True)
        await page.click("text=Sign in with Test IdP")
        await expect(page).to_have_url(f"{sso.portal_url}/")
        await expect(page.locator(".whoami")).to_contain_text("Ada Lovelace")
        await page.screenshot(path=ARTIFACTS / "oidc-dashboard.png", full_page=True)
    assert await sso.memberships("ada") == ["engineers"]


@pytest.fixture
async def guarded_sso_backend(pg_dsn: str, identities: Identities
                              ) -> AsyncIterator[BackendService]:
    service = BackendService(backend_settings(
        pg_dsn, identities.url(BACKEND), broker_roles=identities.roles, oidc_create_users=True))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_only_the_portal_role_may_hand_backend_verified_claims(
    identities: Identities, guarded_sso_backend: BackendService, pg_dsn: str
) -> None:
    """With broker roles enforced, a worker (or an integrator) sending claims is refused by the
    caller check, and nothing is created."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        before = await db_state.tables(conn)
        for who in (SOLVE_WORKER, SESSION_WORKER, BACKEND):
            async for rpc in client_as(identities.url(who)):
                error = await refused(rpc.call_method(UserMethods.OIDC_SIGNIN, CLAIMS))
                assert isinstance(error, Forbidden) and error.code == "caller_not_allowed", who
        assert await db_state.tables(conn) == before
        async for rpc in client_as(identities.url(PORTAL)):
            issued = await rpc.call_method(UserMethods.OIDC_SIGNIN, CLAIMS)
        assert issued.user.username == "grace"
    finally:
        await conn.close()


CLAIMS = VerifiedClaims(issuer="https://idp.example.org", subject="s-1",
                        preferred_username="grace")


def test_settings_refuse_an_unsafe_or_incomplete_provider_and_bad_group_names() -> None:
    from pydantic import ValidationError

    from backend_svc.settings import BackendSettings
    from portal_svc.settings import PortalSettings

    for bad in ({"oidc_issuer": "http://idp.example.org", "oidc_client_id": "c"},
                {"oidc_issuer": "https://idp.example.org"},
                {"oidc_issuer": "https://idp.example.org", "oidc_client_id": "c",
                 "oidc_scopes": "profile email"}):
        with pytest.raises(ValidationError):
            PortalSettings.model_validate(bad)
    assert PortalSettings(oidc_issuer="http://127.0.0.1:9", oidc_client_id="c").oidc_enabled
    assert not PortalSettings().oidc_enabled
    with pytest.raises(ValidationError, match="not valid group names"):
        BackendSettings(oidc_group_map={"g": "Not A Group"})


def test_new_user_names_are_valid_and_fall_back() -> None:
    from common.contracts.users import USERNAME_PATTERN

    def names(**claims: str) -> list[str]:
        return username_candidates(VerifiedClaims(issuer="i", subject="s", **claims))

    assert names(preferred_username="Ada.L")[:2] == ["ada.l", "ada.l-2"]
    assert names(email="Grace Hopper@navy.mil")[0] == "grace-hopper"
    assert names()[0] == "user" and names(preferred_username="é")[0] == "user"
    assert names(preferred_username="_x")[0] == "user-x"
    assert all(re.match(USERNAME_PATTERN, n)
               for n in names(preferred_username="A" * 200) + names(email="@"))


async def test_a_user_in_a_mapped_group_sees_that_groups_apps(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    """Signed in through the provider with a claim mapped to ``operators``, a user sees the
    app only that group may use; signed in without the claim, not."""
    async with OidcProvider() as idp, running_stack(
        pg_dsn, amqp_url, s3_settings, tmp_path,
        backend={"oidc_create_users": True, "oidc_group_map": GROUP_MAP},
        portal={"oidc_issuer": idp.issuer, "oidc_client_id": idp.client_id,
                "oidc_client_secret": idp.client_secret},
    ) as stack:
        admin = stack.admin_token
        await rw.ok(stack, "POST", "/api/v1/runtimes", admin, 201, headers=OCTETS,
                    data=stack.pack_runtime("1.0.0").read_bytes())
        await rw.ok(stack, "POST", "/api/v1/apps", admin, 201, headers=OCTETS,
                    data=stack.pack_app("transport").read_bytes())
        await rw.ok(stack, "POST", "/api/v1/groups", admin, 201, json={"name": "operators"})
        await rw.ok(stack, "PUT", "/api/v1/apps/transport/rights", admin, 200,
                    json={"use": ["operators"], "publish": []})
        conn = await asyncpg.connect(pg_dsn)
        try:
            for groups, sees in ((["operations"], True), (["engineering"], False)):
                idp.user = ProviderUser(sub=f"sub-{groups[0]}", email=f"{groups[0]}@example.org",
                                        preferred_username=groups[0], groups=groups)
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)
                                                 ) as http:
                    sso = Sso(idp, stack.portal_url, conn, http)
                    status, _ = await sso.sign_in()
                    assert status == 303
                    async with http.get(f"{stack.portal_url}/apps") as reply:
                        assert reply.status == 200
                        page = await reply.text()
                assert ('id="app-transport"' in page) is sees, groups
        finally:
            await conn.close()
