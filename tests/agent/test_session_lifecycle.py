"""The session agent's control channel: start and its failures, ping, notice, stray and
over-long lines, autosave on an interval and on stop (and SIGTERM), EOF."""

from __future__ import annotations

import io
import signal
import socket

import pytest

from modelport.agent.protocol import EXIT_INVALID
from modelport.agent.session_protocol import (
    MAX_LINE_BYTES,
    NoticeCommand,
    PingCommand,
    PongEvent,
    StartCommand,
    StartError,
    StopCommand,
    StoppedEvent,
    encode_content,
)
from modelport.appkit import load_app, load_case, save_case
from tests.agent.session_host import SessionHost
from tests.agent.session_support import next_ws, running
from tests.agent.support import EXAMPLES

pytestmark = pytest.mark.timeout(120)


def transport_case(**changes: object) -> bytes:
    transport = load_app(EXAMPLES / "transport").app
    buffer = io.BytesIO()
    save_case(transport, buffer, {**transport.default_data(), **changes})
    return buffer.getvalue()


async def start_failure(**start: object) -> tuple[StartError, int]:
    host = SessionHost()
    try:
        await host.launch()
        await host.send(StartCommand(**{"port": 0, "host": "127.0.0.1", **start}))
        error = await host.wait_for(lambda m: m.type in ("ready", "error"), 60)
        assert isinstance(error, StartError), error
        return error, await host.exit_code()
    finally:
        await host.close()


async def test_an_app_that_cannot_load_fails_the_start_saying_why(tmp_path) -> None:
    error, code = await start_failure(app=str(tmp_path))
    assert (error.reason, code) == ("bad_app", EXIT_INVALID)
    assert "app.toml" in error.message


@pytest.mark.parametrize(("case", "words"), [
    ("not base64!", "not base64"),
    (encode_content(b"PK not a case"), "not_a_case"),
])
async def test_a_bad_initial_case_fails_the_start(case: str, words: str) -> None:
    error, code = await start_failure(app=str(EXAMPLES / "transport"), case_content=case)
    assert (error.reason, code) == ("bad_case", EXIT_INVALID)
    assert words in error.message


async def test_a_busy_port_fails_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        error, code = await start_failure(app=str(EXAMPLES / "transport"),
                                          port=taken.getsockname()[1])
    assert (error.reason, code) == ("port_in_use", EXIT_INVALID)


async def test_the_initial_case_is_loaded_and_remembered_as_the_current_case() -> None:
    content = encode_content(transport_case(freight=45.0))
    async with running(case_content=content, case_id="c-7", case_name="cheap") as live:
        assert await live.value("freight") == 45
        _, status = await live.call("GET", "api/status")
        assert status["case"] == {"case_id": "c-7", "name": "cheap"} and not status["dirty"]


async def test_ping_notice_and_stray_lines_never_break_the_channel() -> None:
    async with running() as live:
        async with live.http.ws_connect(live.url("ws")) as ws:
            await next_ws(ws, "hello")
            await live.host.send_raw(b"garbage\n[1,2]\n{\"type\": \"warp\"}\n\n")
            await live.host.send_raw(b"x" * (MAX_LINE_BYTES + 10) + b"\n")
            await live.host.send(NoticeCommand(message="idle: stopping in 5 minutes",
                                               level="warning"))
            notice = await next_ws(ws, "notice")
            assert notice["message"] == "idle: stopping in 5 minutes"
            await live.call("PATCH", "api/data/freight",
                            {"changes": [{"element": [], "value": 80}]})
            await live.host.send(PingCommand(id="p1"))
            pong = await live.host.wait_for(lambda m: m.type == "pong", 10)
            assert isinstance(pong, PongEvent) and pong.id == "p1" and pong.dirty
            assert pong.idle_s < 10
        assert b"ignored a line" in live.host.stderr


async def test_autosave_runs_on_its_interval_only_after_a_change() -> None:
    async with running(autosave_s=0.3) as live:
        await live.call("PATCH", "api/data/freight", {"changes": [{"element": [], "value": 70}]})
        saved = await live.host.wait_for(
            lambda m: m.type == "request" and m.method == "save_case", 20)
        assert saved.params["autosave"] is True and saved.params["case_id"] is None
        case = next(iter(live.host.cases.values()))
        transport = load_app(EXAMPLES / "transport").app
        assert load_case(transport, case.content)["freight"] == 70
        await live.call("PATCH", "api/data/freight", {"changes": [{"element": [], "value": 60}]})
        again = await live.host.wait_for(
            lambda m: m.type == "request" and m.method == "save_case",
            20, after=live.host.messages.index(saved) + 1)
        assert again.params["case_id"] == case.case_id  # the autosave case is overwritten
        assert len(live.host.cases) == 1


async def test_stop_autosaves_the_changes_then_exits() -> None:
    async with running(autosave_s=0, autosave_case_id=None) as live:
        await live.call("PATCH", "api/data/demand",
                        {"changes": [{"element": ["chicago"], "value": 310}]})
        await live.host.send(StopCommand(reason="idle"))
        stopped = await live.host.wait_for(lambda m: m.type == "stopped", 30)
        assert isinstance(stopped, StoppedEvent) and stopped.autosaved
        assert stopped.reason == "idle" and stopped.case_id in live.host.cases
        transport = load_app(EXAMPLES / "transport").app
        data = load_case(transport, live.host.cases[stopped.case_id].content)
        assert data["demand"]["chicago"] == 310
        assert await live.host.exit_code() == 0


async def test_sigterm_is_a_stop_and_an_unchanged_session_saves_nothing() -> None:
    async with running() as live:
        assert live.host.proc is not None
        live.host.proc.send_signal(signal.SIGTERM)
        stopped = await live.host.wait_for(lambda m: m.type == "stopped", 30)
        assert isinstance(stopped, StoppedEvent) and stopped.autosaved
        assert stopped.reason == "SIGTERM" and live.host.requests == []
        assert await live.host.exit_code() == 0


async def test_a_refused_autosave_on_stop_is_reported() -> None:
    async with running() as live:
        live.host.refuse["save_case"] = "unavailable"
        await live.call("PATCH", "api/data/freight", {"changes": [{"element": [], "value": 50}]})
        await live.host.send(StopCommand(reason="user"))
        stopped = await live.host.wait_for(lambda m: m.type == "stopped", 30)
        assert isinstance(stopped, StoppedEvent)
        assert not stopped.autosaved and stopped.message == "autosave failed"


async def test_the_end_of_stdin_ends_the_session() -> None:
    async with running() as live:
        assert live.host.proc is not None and live.host.proc.stdin is not None
        live.host.proc.stdin.close()
        assert await live.host.exit_code() == 0
        assert b"closed stdin" in live.host.stderr


PRINTER_APP = """
from modelport.appkit import App, button

app = App(name="printer")
count = app.parameter("count", type="integer", default=1)
said = app.result("said", type="string")


@app.procedure(kind="session")
def speak(ctx):
    print('{"v":1,"type":"stopped","autosaved":true}')  # looks like a message: stays a log
    ctx.log("logged by the app")
    return {"said": "yes"}


app.page("main", "Main", [button(speak)])
"""


async def test_an_app_printing_in_a_session_procedure_reaches_the_log_not_the_channel(
    tmp_path
) -> None:
    (tmp_path / "app.toml").write_text('name = "printer"\nversion = "1.0.0"\ntitle = "P"\n'
                                       'runtime = ">=1.0"\nentry = "app:app"\n')
    (tmp_path / "app.py").write_text(PRINTER_APP)
    async with running(str(tmp_path)) as live:
        status, answer = await live.call("POST", "api/procedures/speak")
        assert status == 200, answer
        assert await live.value("said") == "yes"
        printed = await live.host.wait_for(lambda m: m.type == "log" and m.source == "stdout", 10)
        assert '"type":"stopped"' in printed.line
        logged = await live.host.wait_for(lambda m: m.type == "log" and m.source == "app", 10)
        assert logged.line == "logged by the app"
        assert not [m for m in live.host.messages if m.type == "stopped"]
