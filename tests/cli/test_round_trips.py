"""The acceptance round trips, through the CLI against a real backend + portal + S3."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.cli.helpers import TRANSPORT, cli, signed_in, transport_case
from tests.cli.test_runtime_pack import needs_docker
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, Stack


async def test_login_then_logout(stack: Stack, config_dir: Path) -> None:
    env = {"MODELPORT_PASSWORD": ADMIN_PASSWORD}
    result = await cli("login", "--url", stack.portal_url + "/", "-u", ADMIN_USER, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"signed in to {stack.portal_url} as {ADMIN_USER}"
    stored = config_dir / "credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    token = json.loads(stored.read_text())["token"]
    listed = await cli("runtime", "list")
    assert listed.exit_code == 0 and listed.stdout.strip() == "no runtimes registered"

    out = await cli("logout")
    assert out.exit_code == 0 and not stored.exists()
    revoked = await cli("runtime", "list", env=signed_in(stack, token))
    assert revoked.exit_code == 3
    assert "missing, invalid or expired token" in revoked.stderr
    again = await cli("runtime", "list")
    assert again.exit_code == 3 and "not signed in" in again.stderr


async def test_login_prompts_for_the_password(stack: Stack, config_dir: Path) -> None:
    answers = f"{ADMIN_USER}\n{ADMIN_PASSWORD}\n"
    result = await cli("login", "--url", stack.portal_url, stdin=answers)
    assert result.exit_code == 0, result.output
    assert ADMIN_PASSWORD not in result.output
    assert (config_dir / "credentials.json").exists()


async def test_bad_password(stack: Stack, config_dir: Path) -> None:
    env = {"MODELPORT_PASSWORD": "not-the-password"}
    result = await cli("login", "--url", stack.portal_url, "-u", ADMIN_USER, env=env)
    assert result.exit_code == 3
    assert result.stderr == "error: wrong username or password (unauthenticated, HTTP 401)\n"
    assert not (config_dir / "credentials.json").exists()


async def test_runtime_upload_and_list(stack: Stack) -> None:
    package = stack.pack_runtime("1.0.0")
    uploaded = await cli("runtime", "upload", str(package), env=signed_in(stack))
    assert uploaded.exit_code == 0, uploaded.output
    assert uploaded.stdout.startswith("registered runtime 1.0.0 ")
    assert stack.signing_key.key_id in uploaded.stdout
    listed = await cli("runtime", "list", "--json", env=signed_in(stack))
    assert [r["version"] for r in json.loads(listed.stdout)] == ["1.0.0"]
    table = await cli("runtime", "list", env=signed_in(stack))
    assert "1.0.0" in table.stdout and "highs 1.7.2" in table.stdout


async def _upload_runtime(stack: Stack) -> None:
    package = str(stack.pack_runtime("1.0.0"))
    assert (await cli("runtime", "upload", package, env=signed_in(stack))).exit_code == 0


async def test_app_pack_upload_activate(stack: Stack, tmp_path: Path) -> None:
    env = signed_in(stack)
    await _upload_runtime(stack)
    packed = await cli("app", "pack", str(TRANSPORT), env=env)  # key from /api/v1/platform-key
    assert packed.exit_code == 0, packed.output
    assert f"platform key {stack.platform_public_key.key_id}" in packed.stderr
    first = await cli("app", "upload", packed.stdout.strip(), env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "published transport 1.0.0 (active)"

    newer = tmp_path / "transport-next"
    shutil.copytree(TRANSPORT, newer)
    toml = newer / "app.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    packed = await cli("app", "pack", str(newer), env=env)
    second = await cli("app", "upload", packed.stdout.strip(), "--no-activate", env=env)
    assert second.stdout.strip() == "published transport 1.0.1 (not active)", second.output
    activated = await cli("app", "activate", "transport", "1.0.1", env=env)
    assert activated.stdout.strip() == "transport: active version 1.0.1", activated.output
    listed = json.loads((await cli("app", "list", "--json", env=env)).stdout)
    assert [(a["name"], a["active_version"]) for a in listed] == [("transport", "1.0.1")]
    table = await cli("app", "list", env=env)
    assert "1.0.0, 1.0.1" in table.stdout or "1.0.1, 1.0.0" in table.stdout


async def _publish_transport(stack: Stack) -> None:
    env = signed_in(stack)
    await _upload_runtime(stack)
    assert (await cli("app", "upload", str(stack.pack_app("transport")), env=env)).exit_code == 0


async def test_case_upload_list_download(stack: Stack, tmp_path: Path) -> None:
    await _publish_transport(stack)
    env = signed_in(stack)
    written = transport_case(tmp_path / "base.mpcase")
    uploaded = await cli("case", "upload", "base.mpcase", "--app", "transport", env=env)
    assert uploaded.exit_code == 0, uploaded.output
    case_id = uploaded.stdout.strip()
    listed = json.loads((await cli("case", "list", "--app", "transport", "--json", env=env)).stdout)
    assert [(c["id"], c["name"], c["sha256"]) for c in listed] == [
        (case_id, "base", written.sha256)]

    downloaded = await cli("case", "download", case_id, "-o", "copy.mpcase", env=env)
    assert downloaded.exit_code == 0, downloaded.output
    assert (tmp_path / "copy.mpcase").read_bytes() == (tmp_path / "base.mpcase").read_bytes()
    assert f"sha256 {written.sha256} verified" in downloaded.stderr
    none = await cli("case", "list", "--app", "other", env=env)
    assert none.stdout.strip() == "no cases"


@pytest.mark.slow
@needs_docker
async def test_real_runtime_pack_upload_list(stack: Stack, tmp_path: Path) -> None:
    started = time.monotonic()
    packed = await cli("runtime", "pack", "--key", str(stack.signing_key_file),
                       "--version", "1.0.0")
    assert packed.exit_code == 0, packed.output
    pack_s = time.monotonic() - started
    started = time.monotonic()
    uploaded = await cli("runtime", "upload", packed.stdout.strip(), env=signed_in(stack))
    assert uploaded.exit_code == 0, uploaded.output
    upload_s = time.monotonic() - started
    listed = json.loads((await cli("runtime", "list", "--json", env=signed_in(stack))).stdout)
    assert [r["manifest"]["image_reference"].split(":")[0] for r in listed] == [
        "modelport/runtime"]
    size_mb = (tmp_path / packed.stdout.strip()).stat().st_size / 1e6
    print(f"real runtime: pack {pack_s:.1f} s, upload {upload_s:.1f} s, {size_mb:.0f} MB")
