"""Serve protocol 2: the inputs' tar follows the request line on stdin (``files``: size and
sha256) and is extracted into the working folder; the result case's bytes follow the
``result`` line on stdout. Oversize, truncated, wrong-checksum and unsafe frames end with an
``error`` line (``bad_transfer``, exit 2) and leave nothing extracted."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from modelport.agent import EXIT_INVALID, ErrorEvent, ResultEvent, parse_line
from modelport.agent.transfer import MAX_FILES_BYTES
from modelport.case import read_case
from tests.agent.support import EXAMPLES, agent_env

pytestmark = pytest.mark.timeout(120)
SERVE = [sys.executable, "-m", "modelport.agent", "serve"]


def _tar(entries: dict[str, bytes] | None = None, app: Path | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if app is not None:
            tar.add(app, arcname="app")
        for name, data in (entries or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _request(files: dict[str, Any]) -> bytes:
    return json.dumps({"app": "app", "procedure": "solve", "output": "out.mpcase",
                       "files": files}).encode() + b"\n"


def _frame(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _serve(stdin: bytes, work: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(SERVE, input=stdin, capture_output=True, timeout=60, cwd=work,
                          env=agent_env(), check=False)


def test_inputs_come_on_stdin_and_the_result_case_follows_its_line(tmp_path: Path) -> None:
    data = _tar(app=EXAMPLES / "transport")
    done = _serve(_request(_frame(data)) + data, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    head, sep, rest = done.stdout.partition(b'"type":"result"')
    start = head.rfind(b"\n") + 1
    line, _, payload = (done.stdout[start:len(head)] + sep + rest).partition(b"\n")
    result = parse_line(line)
    assert isinstance(result, ResultEvent)
    assert len(payload) == result.size and hashlib.sha256(payload).hexdigest() == result.sha256
    written = tmp_path / "out.mpcase"  # still written where the app expects it
    assert payload == written.read_bytes()
    assert read_case(written).values("total_cost") == pytest.approx(153.675)
    assert (tmp_path / "app" / "app.toml").is_file()


def _refused(done: subprocess.CompletedProcess[bytes], work: Path, words: str) -> None:
    lines = done.stdout.splitlines()
    assert done.returncode == EXIT_INVALID, done.stderr.decode()
    assert len(lines) == 1, lines  # no started line: nothing ran
    error = parse_line(lines[0])
    assert isinstance(error, ErrorEvent) and error.reason == "bad_transfer", error
    assert words in error.message
    assert list(work.iterdir()) == []  # nothing extracted stays


def test_a_wrong_checksum_is_refused_and_nothing_stays(tmp_path: Path) -> None:
    data = _tar({"input.mpcase": b"x" * 5000})
    frame = {**_frame(data), "sha256": "0" * 64}
    _refused(_serve(_request(frame) + data, tmp_path), tmp_path, "wrong checksum")


def test_a_truncated_frame_is_refused_at_eof(tmp_path: Path) -> None:
    data = _tar({"input.mpcase": b"x" * 50_000})
    cut = data[:20_000]
    _refused(_serve(_request(_frame(data)) + cut, tmp_path), tmp_path, "truncated")


def test_an_oversize_frame_is_refused_before_reading(tmp_path: Path) -> None:
    frame = {"size": MAX_FILES_BYTES + 1, "sha256": "0" * 64}
    _refused(_serve(_request(frame), tmp_path), tmp_path, "oversize")


@pytest.mark.parametrize("name", ["../escape", "/abs/file"])
def test_an_entry_outside_the_working_folder_is_refused(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    data = _tar({"input.mpcase": b"ok", name: b"evil"})
    _refused(_serve(_request(_frame(data)) + data, work), work, "unsafe tar entry")
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("files", [{"size": -1, "sha256": "0" * 64}, {"size": 1},
                                   {"size": 1, "sha256": "abc"}, "big"])
def test_a_malformed_files_entry_is_a_bad_request(tmp_path: Path, files: Any) -> None:
    done = _serve(_request(files), tmp_path)
    assert done.returncode == EXIT_INVALID and done.stdout == b""
    assert b"files" in done.stderr
