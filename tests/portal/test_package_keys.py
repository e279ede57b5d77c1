"""A portal without a platform key or trusted keys still works; the uploads that need them
answer 503 naming the setting to fix. A broken key file stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.packages import BadKey
from common.settings import S3Settings
from portal_svc.service import PortalService
from tests.portal.conftest import portal_settings
from tests.portal.uploads import call, error_code, upload
from tests.support.stack import package_settings, running_stack

NO_KEYS = {"platform_key_file": "", "trusted_keys": ""}


async def test_without_keys_uploads_are_503_and_the_rest_works(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path, packages=NO_KEYS) as stack:
        status, body = await call(stack, "GET", "/api/v1/platform-key", anonymous=True)
        assert (status, error_code(body)) == (503, "no_platform_key")
        assert "MODELPORT_PLATFORM_KEY_FILE" in body["error"]["message"]
        status, body = await upload(stack, "/api/v1/apps", stack.pack_app().read_bytes())
        assert (status, error_code(body)) == (503, "no_platform_key")
        status, body = await upload(stack, "/api/v1/runtimes", stack.pack_runtime().read_bytes())
        assert (status, error_code(body)) == (503, "no_trusted_keys")
        assert "MODELPORT_TRUSTED_KEYS" in body["error"]["message"]
        status, body = await call(stack, "GET", "/api/v1/runtimes")
        assert status == 200 and body == {"runtimes": []}
        snapshot = await stack.snapshot()
        assert snapshot.s3_keys == [] and snapshot.pending_uploads == []


async def test_a_missing_key_file_is_named(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "platform.pem"
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path,
                             packages={"platform_key_file": str(missing)}) as stack:
        status, body = await upload(stack, "/api/v1/apps", stack.pack_app().read_bytes())
        assert (status, error_code(body)) == (503, "no_platform_key")
        assert str(missing) in body["error"]["message"]


async def test_a_readable_by_others_key_file_stops_the_start(
    amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "platform.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    (keys / "platform.pem").chmod(0o644)
    (keys / "trusted.pub").write_text("")
    service = PortalService(portal_settings(amqp_url), s3=s3_settings,
                            packages=package_settings(keys))
    with pytest.raises(BadKey, match="chmod 600"):
        await service.start()
    await service.stop()
