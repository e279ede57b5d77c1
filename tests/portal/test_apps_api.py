"""App packages through the REST API: upload, list, activate, delete, and every refusal.

Each refusal is a precise 4xx JSON error, and S3 and PostgreSQL are exactly as before.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from common.packages import PlatformPrivateKey, generate_platform_key, platform_key_from_pem
from tests.portal.uploads import (
    LIMIT_MB,
    call,
    error_code,
    flip_byte,
    publish_transport,
    unchanged,
    upload,
)
from tests.support.stack import EXAMPLES, Stack

APPS = "/api/v1/apps"
RUNTIMES = "/api/v1/runtimes"


def transport_version(tmp_path: Path, version: str) -> Path:
    """A copy of examples/transport with another version number."""
    src = tmp_path / f"transport-{version}"
    shutil.copytree(EXAMPLES / "transport", src)
    toml = src / "app.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', f'version = "{version}"'))
    return src


async def test_platform_key_is_public(stack: Stack) -> None:
    status, key = await call(stack, "GET", "/api/v1/platform-key", anonymous=True)
    assert status == 200
    assert key == stack.platform_public_key.to_json()


async def test_round_trip_upload_list_activate(stack: Stack, tmp_path: Path) -> None:
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201
    package = stack.pack_app("transport")
    status, version = await upload(stack, APPS, package.read_bytes())
    assert status == 201, version
    assert (version["app"], version["version"], version["active"]) == ("transport", "1.0.0", True)
    assert version["runtime_requirement"] == ">=1.0" and version["size_bytes"] == len(
        package.read_bytes())
    keys = (await stack.snapshot()).s3_keys
    app_key = next(k for k in keys if k.startswith("apps/"))
    assert app_key.startswith("apps/transport/1.0.0/") and app_key.endswith("/app.mpapp")
    assert await stack.s3_bytes(app_key) == package.read_bytes()

    newer = stack.pack_app(transport_version(tmp_path, "1.1.0"), out=tmp_path / "t11.mpapp")
    status, version = await upload(stack, APPS, newer.read_bytes(), form=True,
                                   params={"activate": "false"})
    assert status == 201 and not version["active"]
    status, app = await call(stack, "GET", f"{APPS}/transport")
    assert status == 200 and app["active_version"] == "1.0.0"
    assert sorted(v["version"] for v in app["versions"]) == ["1.0.0", "1.1.0"]

    status, app = await call(stack, "POST", f"{APPS}/transport/versions/1.1.0/activate")
    assert status == 200 and app["active_version"] == "1.1.0"
    status, listing = await call(stack, "GET", APPS)
    assert status == 200 and [a["active_version"] for a in listing["apps"]] == ["1.1.0"]
    status, app = await call(stack, "POST", f"{APPS}/transport/versions/1.0.0/activate")
    assert status == 200 and app["active_version"] == "1.0.0"  # rolled back


async def test_delete_a_version_and_refusals_while_in_use(stack: Stack, tmp_path: Path) -> None:
    await publish_transport(stack)
    newer = stack.pack_app(transport_version(tmp_path, "1.1.0"), out=tmp_path / "t11.mpapp")
    status, _ = await upload(stack, APPS, newer.read_bytes(), params={"activate": "false"})
    assert status == 201
    async with unchanged(stack):
        status, body = await call(stack, "DELETE", f"{APPS}/transport/versions/1.0.0")
        assert (status, error_code(body)) == (409, "in_use")  # the active one, others exist
        status, body = await call(stack, "DELETE", f"{RUNTIMES}/1.2.0")
        assert (status, error_code(body)) == (409, "in_use")  # the active version needs it
    before = await stack.snapshot()
    status, _ = await call(stack, "DELETE", f"{APPS}/transport/versions/1.1.0")
    assert status == 204
    after = await stack.snapshot()
    assert after.rows["app_versions"] == 1 and len(after.s3_keys) == len(before.s3_keys) - 1
    assert not [k for k in after.s3_keys if k.startswith("apps/transport/1.1.0/")]


@pytest.mark.parametrize(("mangle", "code"), [
    ("tampered_ciphertext", "tampered_ciphertext"),
    ("cut_ciphertext", "tampered_ciphertext"),
    ("cut_header", "truncated"),
    ("trailing_data", "tampered_ciphertext"),
    ("wrong_platform_key", "wrong_key"),
    ("not_an_app", "not_a_package"),
])
async def test_bad_packages_are_refused_leaving_nothing(
    stack: Stack, tmp_path: Path, mangle: str, code: str
) -> None:
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201
    package = _bad_package(stack, tmp_path, mangle)
    async with unchanged(stack):
        status, body = await upload(stack, APPS, package)
        assert (status, error_code(body)) == (400, code), body


def _bad_package(stack: Stack, tmp_path: Path, mangle: str) -> bytes:
    good = stack.pack_app("transport")
    data = good.read_bytes()
    if mangle == "tampered_ciphertext":
        return flip_byte(good, -100, tmp_path / "tampered.mpapp").read_bytes()
    if mangle == "cut_ciphertext":
        return data[:-50]
    if mangle == "cut_header":
        return data[:40]
    if mangle == "trailing_data":
        return data + b"\0"
    if mangle == "wrong_platform_key":
        other: PlatformPrivateKey = platform_key_from_pem(generate_platform_key()[0])
        stack_key = stack.platform_public_key
        stack.platform_public_key = other.public_key
        try:
            return stack.pack_app("transport", out=tmp_path / "other.mpapp").read_bytes()
        finally:
            stack.platform_public_key = stack_key
    return b"MPAPP? no, just text" * 50


async def test_over_the_size_limit_is_413(stack: Stack, tmp_path: Path) -> None:
    big = transport_version(tmp_path, "2.0.0")
    (big / "padding.bin").write_bytes(os.urandom(LIMIT_MB * 2**20 + 1000))  # incompressible
    package = stack.pack_app(big, out=tmp_path / "big.mpapp").read_bytes()
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201
    async with unchanged(stack):
        status, body = await upload(stack, APPS, package)
        assert (status, error_code(body)) == (413, "too_large")
        status, body = await upload(stack, APPS, package, form=True)
        assert (status, error_code(body)) == (413, "too_large")


async def test_duplicate_version_is_409(stack: Stack) -> None:
    await publish_transport(stack)
    again = stack.pack_app("transport").read_bytes()
    async with unchanged(stack):
        status, body = await upload(stack, APPS, again)
        assert (status, error_code(body)) == (409, "duplicate_version")


async def test_no_runtime_meets_the_requirement(stack: Stack) -> None:
    status, _ = await upload(stack, RUNTIMES, stack.pack_runtime("0.9.0").read_bytes())
    assert status == 201
    async with unchanged(stack):
        status, body = await upload(stack, APPS, stack.pack_app("transport").read_bytes())
        assert (status, error_code(body)) == (400, "runtime_unsatisfied")
        assert ">=1.0" in body["error"]["message"]


async def test_non_admin_is_403(stack: Stack) -> None:
    await publish_transport(stack)
    token = await stack.create_user("bob", "bob-password-1")
    async with unchanged(stack):
        status, body = await upload(stack, APPS, stack.pack_app("transport").read_bytes(), token)
        assert (status, error_code(body)) == (403, "forbidden")
        status, body = await call(stack, "POST", f"{APPS}/transport/versions/1.0.0/activate",
                                  token)
        assert (status, error_code(body)) == (403, "forbidden")
        status, body = await call(stack, "DELETE", f"{APPS}/transport/versions/1.0.0", token)
        assert (status, error_code(body)) == (403, "forbidden")
    status, listing = await call(stack, "GET", APPS, token)
    assert status == 200 and [a["name"] for a in listing["apps"]] == ["transport"]


async def test_unknown_app_and_version_are_404(stack: Stack) -> None:
    status, body = await call(stack, "GET", f"{APPS}/nope")
    assert (status, error_code(body)) == (404, "not_found")
    await publish_transport(stack)
    status, body = await call(stack, "POST", f"{APPS}/transport/versions/9.9.9/activate")
    assert status == 404
