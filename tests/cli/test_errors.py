"""What the CLI shows when the server refuses: its message on one line, a non-zero status."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import cli, signed_in, transport_case
from tests.support.ports import free_port
from tests.support.stack import Stack


async def test_untrusted_runtime_key_shows_the_servers_message(stack: Stack) -> None:
    package = stack.pack_runtime("1.0.0", key=stack.untrusted_key)
    result = await cli("runtime", "upload", str(package), env=signed_in(stack))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and lines[-1].endswith("(untrusted_key, HTTP 400)")
    assert stack.untrusted_key.key_id in lines[-1]


async def test_app_without_runtime_and_case_of_unknown_app(stack: Stack, tmp_path: Path) -> None:
    env = signed_in(stack)
    app = await cli("app", "upload", str(stack.pack_app("transport")), env=env)
    assert app.exit_code == 1
    assert "(runtime_unsatisfied, HTTP 400)" in app.stderr
    transport_case(tmp_path / "base.mpcase")
    case = await cli("case", "upload", "base.mpcase", "--app", "nope", env=env)
    assert case.exit_code == 1 and "HTTP 404" in case.stderr


async def test_not_a_case_and_missing_files(stack: Stack, tmp_path: Path) -> None:
    env = signed_in(stack)
    (tmp_path / "junk.mpcase").write_bytes(b"not a case")
    junk = await cli("case", "upload", "junk.mpcase", "--app", "transport", env=env)
    assert junk.exit_code == 1 and "error: " in junk.stderr
    for args in (("runtime", "upload", "gone.mprt"), ("app", "upload", "gone.mpapp"),
                 ("case", "upload", "gone.mpcase", "--app", "transport")):
        missing = await cli(*args, env=env)
        assert missing.exit_code == 2 and "gone." in missing.stderr and "does not exist" in (
            missing.stderr)


async def test_unknown_case_download_leaves_no_file(stack: Stack, tmp_path: Path) -> None:
    result = await cli("case", "download", "0" * 32, "-o", "out.mpcase", env=signed_in(stack))
    assert result.exit_code == 1 and "HTTP 404" in result.stderr
    assert not (tmp_path / "out.mpcase").exists()
    assert not (tmp_path / "out.mpcase.part").exists()


async def test_unreachable_portal(config_dir: Path) -> None:
    env = {"MODELPORT_URL": f"http://127.0.0.1:{free_port()}", "MODELPORT_TOKEN": "t"}
    result = await cli("case", "list", env=env)
    assert result.exit_code == 4 and result.stderr.startswith("error: cannot reach the portal")


async def test_download_cut_by_the_portal_leaves_no_file(stack: Stack, tmp_path: Path) -> None:
    """The stored object no longer matches its checksum: the portal cuts the transfer."""
    env = signed_in(stack)
    for kind, package in (("runtime", stack.pack_runtime("1.0.0")), ("app", stack.pack_app())):
        assert (await cli(kind, "upload", str(package), env=env)).exit_code == 0
    written = transport_case(tmp_path / "base.mpcase")
    case_id = (await cli("case", "upload", "base.mpcase", "--app", "transport", env=env)).stdout
    tampered = bytearray((tmp_path / "base.mpcase").read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    await stack._s3.put_object(Bucket=stack.s3_settings.bucket, Key=f"cases/{case_id.strip()}",
                               Body=bytes(tampered))
    result = await cli("case", "download", case_id.strip(), "-o", "copy.mpcase", env=env)
    assert result.exit_code == 4, result.output
    assert "connection was closed before the answer was complete" in result.stderr
    assert not (tmp_path / "copy.mpcase").exists()
    assert not (tmp_path / "copy.mpcase.part").exists()
    assert written.size == len(tampered)
