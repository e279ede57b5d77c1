"""Serve protocol 2 on the worker's side: the inputs' tar goes after the request on the
agent's stdin, the result case's bytes are read after its ``result`` line. The receiver's
framing in process (pure logic), then through a real container's attach with a stand-in
agent that answers with good and bad frames: each bad one raises BadTransfer, none hangs
(a frame that stops half-way ends at the stall bound)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from common.contracts.jobs import BlobRef, RunJob
from common.docker import DockerHost, Limits, WarmPool, remove
from modelport.agent.protocol import SERVE_PROTOCOL, SERVE_PROTOCOL_LABEL, ResultEvent, encode
from solve_svc.agent_exec import AgentServe
from solve_svc.execution import Env, Execution
from solve_svc.joblog import JobLog
from solve_svc.serve_files import BadTransfer, ResultReceiver
from tests.docker.conftest import host, runtime_image, service  # noqa: F401

PAYLOAD = bytes(range(256)) * 40


def _result_line(data: bytes, **over: object) -> bytes:
    fields: dict[str, object] = dict(path="/work/result.mpcase", size=len(data),
                                     sha256=hashlib.sha256(data).hexdigest(), interrupted=False)
    return encode(ResultEvent(**{**fields, **over}))


def _stdout(data: bytes = PAYLOAD, **over: object) -> bytes:
    return b'{"v":1,"type":"log","line":"hi","source":"app"}\n' + _result_line(data, **over) \
        + data


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_lines_then_exactly_the_announced_bytes(tmp_path: Path, piece: int) -> None:
    receiver = ResultReceiver(tmp_path / "out", max_bytes=1 << 20)
    stream = _stdout() + b"late line\n"
    lines = [line for i in range(0, len(stream), piece)
             for line in receiver.split(stream[i:i + piece])]
    receiver.finish()
    assert lines[0].startswith(b'{"v":1,"type":"log"') and b'"result"' in lines[1]
    assert lines[2:] == [b"late line"]
    assert receiver.complete and (tmp_path / "out").read_bytes() == PAYLOAD
    assert receiver.ms["receive"] >= 0


def test_an_empty_result_case_is_received(tmp_path: Path) -> None:
    receiver = ResultReceiver(tmp_path / "out", max_bytes=10)
    assert len(receiver.split(_stdout(b""))) == 2
    receiver.finish()
    assert receiver.complete and (tmp_path / "out").read_bytes() == b""


def test_an_oversize_announcement_is_refused_before_any_byte_is_kept(tmp_path: Path) -> None:
    receiver = ResultReceiver(tmp_path / "out", max_bytes=len(PAYLOAD) - 1)
    with pytest.raises(BadTransfer, match="oversize"):
        receiver.split(_stdout())
    assert not (tmp_path / "out").exists()


def test_a_truncated_result_is_refused_when_the_stream_ends(tmp_path: Path) -> None:
    receiver = ResultReceiver(tmp_path / "out", max_bytes=1 << 20)
    receiver.split(_stdout()[:-10])
    with pytest.raises(BadTransfer, match=f"truncated.*after {len(PAYLOAD) - 10} of"):
        receiver.finish()


def test_a_wrong_checksum_is_refused(tmp_path: Path) -> None:
    receiver = ResultReceiver(tmp_path / "out", max_bytes=1 << 20)
    with pytest.raises(BadTransfer, match="wrong checksum"):
        receiver.split(_stdout(sha256="0" * 64))


# A stand-in for the agent in the runtime image: reads the request and the framed inputs,
# checks them, then answers as MODE says (the real agent's side: tests/agent/).
FAKE_AGENT = r"""
import hashlib, json, os, sys, time
req = json.loads(sys.stdin.buffer.readline())
frame = req["files"]
data = sys.stdin.buffer.read(frame["size"])
assert hashlib.sha256(data).hexdigest() == frame["sha256"], "inputs damaged"
mode = req["options"]["mode"]
size, digest = len(data), hashlib.sha256(data).hexdigest()
if mode == "oversize": size = 1 << 40
if mode == "checksum": digest = "0" * 64
line = {"v": 1, "type": "result", "path": "/work/r", "size": size, "sha256": digest,
        "interrupted": False}
out = sys.stdout.buffer
out.write(json.dumps(line).encode() + b"\n")
out.write(data[:10] if mode in ("truncated", "stall") else data)
out.flush()
if mode == "stall":  # neither the rest nor an exit: only the stall bound ends the read
    time.sleep(3600)
"""


@pytest.fixture
async def pool(host: DockerHost, runtime_image: str) -> AsyncIterator[WarmPool]:  # noqa: F811
    made = WarmPool(host, size=0, limits=Limits(memory_mb=256), owner="test",
                    serve_cmd=["python", "-c", FAKE_AGENT], protocol_label=SERVE_PROTOCOL_LABEL)
    try:
        yield made
    finally:
        await made.close()


@pytest.mark.parametrize(("mode", "error"), [("echo", None), ("oversize", "oversize"),
                                             ("truncated", "truncated"),
                                             ("checksum", "wrong checksum"),
                                             ("stall", "stalled: no byte for 2 s after 10 of")])
async def test_frames_through_a_real_attach(pool: WarmPool, host: DockerHost,  # noqa: F811
                                            runtime_image: str, tmp_path: Path,  # noqa: F811
                                            mode: str, error: str | None) -> None:
    pool.size = 1
    pool.add_runtime("rt", runtime_image)
    async with asyncio.timeout(60):
        await pool.wait_filled("rt")
    container = await pool.acquire("rt", runtime_image, kind="job", id=f"sf-{mode}",
                                   attempt=1, service=host.service)
    assert (container.serving, container.serve_protocol) == (True, SERVE_PROTOCOL)
    inputs = tmp_path / "inputs.tar"
    inputs.write_bytes(PAYLOAD * 3)
    receiver = ResultReceiver(tmp_path / "result", max_bytes=1 << 20, stall_s=2.0)
    agent = AgentServe(container, {"options": {"mode": mode}}, inputs, receiver)
    try:
        async with asyncio.timeout(60):  # a bad frame must end the read, never hang it
            if error is None:
                lines = [line async for _, line in agent.lines()]
                assert json.loads(lines[0])["type"] == "result" and len(lines) == 1
                assert await agent.exit_code() == 0
            else:
                with pytest.raises(BadTransfer, match=error):
                    async for _ in agent.lines():
                        pass
    finally:
        await remove(container)
    if error is None:
        assert (tmp_path / "result").read_bytes() == inputs.read_bytes()
        assert set(agent.ms) == {"send"} and set(receiver.ms) == {"receive"}


async def test_a_refused_result_fails_the_job_with_bad_transfer(
    pool: WarmPool, host: DockerHost, runtime_image: str, tmp_path: Path,  # noqa: F811
) -> None:
    """Through the attempt itself: the refused bytes kill the container, the job fails with
    reason ``bad_transfer`` and its log says why."""
    ref = BlobRef(s3_key="unused", sha256="0" * 64, size_bytes=0)
    job = RunJob(job_id="bt1", attempt=1, app="fake", app_version="1", app_package=ref,
                 runtime_version="rt", runtime_package=ref, runtime_image_digest="sha256:x",
                 procedure="solve", input_case=None, options={"mode": "checksum"},
                 time_limit_s=60, memory_mb=256, lease_ttl_s=30.0)
    container = await pool.acquire("rt", runtime_image, kind="job", id="bt1", attempt=1,
                                   service=host.service)
    inputs = tmp_path / "inputs.tar"
    inputs.write_bytes(PAYLOAD)
    joblog = JobLog(tmp_path / "log", 1 << 20)
    env = cast(Env, SimpleNamespace(max_case_bytes=1 << 20, storage=None))
    execution = Execution(job, env, tmp_path, joblog, progress=None)
    try:
        exit_code = await execution._run_agent(container, inputs)
        outcome = execution._verdict(exit_code)
    finally:
        joblog.close()
        await remove(container)
    assert outcome is not None and (outcome.outcome, outcome.reason) == ("failed", "bad_transfer")
    assert b"wrong checksum" in (tmp_path / "log").read_bytes()
