"""The first-start step (modelport.devstack.bootstrap) against a real backend + portal: it
registers the runtime and publishes the examples once, a second run changes nothing, and a
wrong password or an untrusted publisher key fails with the server's reason and leaves the
platform as it was."""

from __future__ import annotations

import io
import subprocess
import tarfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from common.packages import generate_signing_key, save_private_key
from common.settings import S3Settings
from modelport.client import ApiError
from modelport.devstack.bootstrap import BootstrapSettings, Published, banner, bootstrap
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, EXAMPLES, Stack, running_stack

EXAMPLE_APPS = ["facility-location", "sleeper", "transport"]
# every run logs in and out: its token, their audit rows and the sign-out's token.revoked event
SIGN_IN = ("api_tokens", "audit_log", "outbox")


async def _registry(stack: Stack) -> tuple[list[str], dict[str, int]]:
    """The bucket's keys and the row counts, less what a log-in writes."""
    snap = await stack.snapshot()
    return snap.s3_keys, {k: v for k, v in snap.rows.items() if k not in SIGN_IN}


@pytest.fixture(scope="module")
def tiny_image() -> Iterator[str]:
    """A few-byte image standing in for the runtime (what is signed is the saved tar)."""
    tag = f"mp-test-bootstrap:{uuid.uuid4().hex[:8]}"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    subprocess.run(["docker", "import", "-", tag], input=data.getvalue(), check=True,
                   capture_output=True)
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", tag], check=False, capture_output=True)


@pytest.fixture
async def stack(pg_dsn: str, amqp_url: str, s3_settings: S3Settings,
                tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path) as found:
        yield found


def _settings(stack: Stack, image: str, **changes: object) -> BootstrapSettings:
    fields: dict[str, object] = {
        "portal_url": stack.portal_url, "admin_user": ADMIN_USER,
        "admin_password": SecretStr(ADMIN_PASSWORD),
        "publisher_key_file": str(stack.signing_key_file), "runtime_image": image,
        "runtime_version": "1.0.0", "examples_dir": str(EXAMPLES), "wait_s": 30.0}
    return BootstrapSettings(**{**fields, **changes})  # type: ignore[arg-type]


async def test_registers_the_runtime_and_publishes_the_examples_once(
    stack: Stack, tiny_image: str,
) -> None:
    said: list[str] = []
    first = await bootstrap(_settings(stack, tiny_image), said.append)
    assert first == Published(runtime=True, apps=EXAMPLE_APPS)
    assert said[-1] == "examples published: " + ", ".join(EXAMPLE_APPS)
    before = await _registry(stack)
    again = await bootstrap(_settings(stack, tiny_image), said.append)
    assert again == Published(runtime=False, apps=[])
    assert await _registry(stack) == before


async def test_a_wrong_admin_password_fails_and_changes_nothing(
    stack: Stack, tiny_image: str,
) -> None:
    before = await stack.snapshot()
    with pytest.raises(ApiError) as caught:
        await bootstrap(_settings(stack, tiny_image, admin_password=SecretStr("nope")),
                        lambda _: None)
    assert caught.value.status == 401
    after = await stack.snapshot()
    # A refused sign-in is recorded (one audit row, one counted failure: docs/security.md);
    # nothing else changes.
    signin_records = ("audit_log", "login_failures")
    assert {t: n - before.rows[t] for t, n in after.rows.items() if t in signin_records} == {
        "audit_log": 1, "login_failures": 1}
    for table in signin_records:
        for state in (before, after):
            del state.rows[table], state.contents[table]
    assert after == before


async def test_a_publisher_key_the_platform_does_not_trust_is_refused(
    stack: Stack, tiny_image: str, tmp_path: Path,
) -> None:
    key = tmp_path / "other.pem"
    save_private_key(key, generate_signing_key("not trusted")[0])
    before = await _registry(stack)
    with pytest.raises(ApiError) as caught:
        await bootstrap(_settings(stack, tiny_image, publisher_key_file=str(key)),
                        lambda _: None)
    assert caught.value.status in (400, 403, 422), caught.value
    assert "trust" in str(caught.value).lower() or "untrusted" in caught.value.code
    assert await _registry(stack) == before


def test_a_generated_password_is_shown_once_and_a_given_one_never(tmp_path: Path) -> None:
    cfg = BootstrapSettings(publisher_key_file="k", runtime_image="i", port=8123,
                            admin_password=SecretStr("s3cret-generated"))
    first = banner(cfg, tmp_path)
    assert first[0] == "Modelport is ready: http://localhost:8123"
    assert "admin / s3cret-generated" in first[1]
    assert "s3cret-generated" not in " ".join(banner(cfg, tmp_path))
    given = cfg.model_copy(update={"admin_password_given": "yes",
                                   "public_url": "https://mp.example/"})
    lines = banner(given, tmp_path / "elsewhere")
    assert lines[0] == "Modelport is ready: https://mp.example"
    assert "s3cret-generated" not in " ".join(lines)
