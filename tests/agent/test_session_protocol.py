"""The session control channel's models and readers, in process (pure logic)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from modelport.agent.session_protocol import (
    MAX_CONTENT_BYTES,
    METHODS,
    JobEvent,
    LogMessage,
    PongEvent,
    Reply,
    RequestMessage,
    StartCommand,
    decode_content,
    encode,
    encode_content,
    parse_agent_line,
    parse_host_line,
    parse_params,
    parse_result,
    read_lines,
)


def test_host_lines_round_trip_and_anything_else_is_none() -> None:
    start = StartCommand(app="/work/app", port=8080, base_path="/s/x/")
    assert parse_host_line(encode(start)) == start
    job = parse_host_line(b'{"v":1,"type":"job","job_id":"j","state":"running","progress":0.5,'
                          b'"future_field":1}')
    assert isinstance(job, JobEvent) and job.progress == 0.5 and not job.terminal
    for line in (b"", b"not json", b"[1]", b'{"type":"warp"}', b'{"type":"start"}',
                 b'{"type":"job","job_id":"j","state":"exploded"}',
                 b'{"type":"job","job_id":"j","state":"running","progress":2}', b"\xff\xfe"):
        assert parse_host_line(line) is None, line


def test_agent_lines_that_are_no_message_become_raw_log_lines() -> None:
    pong = PongEvent(id="p", idle_s=1.5, dirty=True)
    assert parse_agent_line(encode(pong)) == pong
    raw = parse_agent_line(b'{"type":"request","id":"r1","method":"format_disk"}\n')
    assert isinstance(raw, LogMessage) and raw.source == "raw" and "format_disk" in raw.line
    assert parse_agent_line(b"x" * 100_000).line == "x" * 16_384


def test_each_method_has_params_and_result_models() -> None:
    assert set(METHODS) == {"save_case", "open_case", "list_cases", "submit_job",
                            "fetch_result", "cancel_job"}
    params = parse_params("save_case", {"name": "a", "content": "AAAA"})
    assert params.model_dump() == {"name": "a", "autosave": False, "content": "AAAA",
                                   "case_id": None}
    with pytest.raises(ValidationError):
        parse_params("save_case", {"name": "a", "content": "AAAA", "colour": 1})
    with pytest.raises(KeyError):
        parse_params("drop_tables", {})
    assert parse_result("submit_job", {"job_id": "j"}).model_dump() == {"job_id": "j"}
    request = RequestMessage(id="r1", method="open_case", params={"case_id": "c"})
    reply = Reply(id="r1", ok=False, error={"code": "not_found", "message": "no case c"})
    assert parse_agent_line(encode(request)) == request
    assert parse_host_line(encode(reply)) == reply


def test_content_is_base64_within_the_limit() -> None:
    assert decode_content(encode_content(b"\x00case")) == b"\x00case"
    with pytest.raises(ValueError, match="not base64"):
        decode_content("###")
    with pytest.raises(ValueError, match="exceeds"):
        encode_content(b"x" * (MAX_CONTENT_BYTES + 1))


async def test_read_lines_skips_an_overlong_line_whole_and_keeps_the_rest() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"first\n" + b"y" * 50 + b"\nsecond\n" + b"z" * 30)
    reader.feed_data(b"z" * 30 + b"\nthird")
    reader.feed_eof()
    lines = [line async for line in read_lines(reader, max_bytes=40)]
    assert lines == [b"first", b"second", b"third"]
