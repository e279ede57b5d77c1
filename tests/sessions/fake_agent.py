"""A stand-in for the agent's session mode, run inside the real runtime container by the
session_svc tests (it travels in a test app package, started as ``python
/work/app/fake_agent.py``). It speaks the real control protocol on stdin/stdout and serves,
under ``base_path``:

- ``GET .``: a page; ``GET ws``: a WebSocket answering ``echo:<text>``;
- ``GET case``: the bytes of the case it started with (404 without one);
- ``POST save?name=&autosave=``: the body saved as a case through the host (``save_case``);
- ``POST submit?procedure=``: the body submitted as a job (``submit_job``);
- ``GET ask?method=&...``: any other request, params from the query;
- ``GET jobs``: the ``job`` lines received; ``GET notices``: the ``notice`` lines received;
- ``GET connect?host=&port=``: whether a TCP connection from inside opens.

Stdlib and aiohttp only (both are in the runtime image).
"""

import asyncio
import base64
import json
import os
import socket
import sys
import time
import uuid

from aiohttp import web

state = {"case": None, "jobs": [], "notices": [], "last": time.monotonic(), "start": None}
pending = {}
out = os.fdopen(os.dup(1), "w", buffering=1)


def send(message):
    out.write(json.dumps({"v": 1, **message}) + "\n")


async def ask(method, params):
    request_id = uuid.uuid4().hex[:8]
    future = asyncio.get_running_loop().create_future()
    pending[request_id] = future
    send({"type": "request", "id": request_id, "method": method, "params": params})
    return await asyncio.wait_for(future, 30)


def touch():
    state["last"] = time.monotonic()


async def page(request):
    touch()
    return web.Response(text="<html><body><h1 id=probe>probe session</h1></body></html>",
                        content_type="text/html")


async def case(request):
    touch()
    if state["case"] is None:
        return web.Response(status=404, text="no case")
    return web.Response(body=state["case"])


async def save(request):
    touch()
    body = await request.read()
    params = {"name": request.query.get("name", "saved"),
              "content": base64.b64encode(body).decode(),
              "autosave": request.query.get("autosave") == "1"}
    if request.query.get("case_id"):
        params["case_id"] = request.query["case_id"]
    return web.json_response(await ask("save_case", params))


async def submit(request):
    touch()
    body = await request.read()
    params = {"procedure": request.query.get("procedure", "solve"),
              "content": base64.b64encode(body).decode()}
    return web.json_response(await ask("submit_job", params))


async def ask_any(request):
    touch()
    query = dict(request.query)
    method = query.pop("method")
    return web.json_response(await ask(method, query))


async def jobs(request):
    return web.json_response(state["jobs"])


async def notices(request):
    return web.json_response(state["notices"])


async def connect(request):
    unix = "path" in request.query
    sock = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
    sock.settimeout(float(request.query.get("timeout", "1.5")))
    try:
        await asyncio.to_thread(sock.connect, request.query["path"] if unix else
                                (request.query["host"], int(request.query["port"])))
        result = "open"
    except OSError as exc:
        result = type(exc).__name__
    finally:
        sock.close()
    return web.json_response({"result": result})


async def ws(request):
    touch()
    socket_ = web.WebSocketResponse()
    await socket_.prepare(request)
    await socket_.send_str("hello")
    async for message in socket_:
        touch()
        if message.type == web.WSMsgType.TEXT:
            await socket_.send_str("echo:" + message.data)
    return socket_


async def serve(start):
    base = start.get("base_path", "/")
    if start.get("case_path"):
        with open(start["case_path"], "rb") as f:  # noqa: ASYNC230 - a small file
            state["case"] = f.read()
    app = web.Application()
    for path, handler, method in [("", page, "GET"), ("case", case, "GET"),
                                  ("save", save, "POST"), ("submit", submit, "POST"),
                                  ("ask", ask_any, "GET"), ("jobs", jobs, "GET"),
                                  ("notices", notices, "GET"), ("connect", connect, "GET"),
                                  ("ws", ws, "GET")]:
        app.router.add_route(method, base + path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, start.get("host", "0.0.0.0"), start["port"])
    await site.start()
    send({"type": "ready", "port": start["port"], "base_path": base, "app": "probe",
          "app_version": "1.0.0", "pid": os.getpid()})
    return runner


async def stop(message):
    start = state["start"] or {}
    params = {"name": "autosave", "autosave": True,
              "content": base64.b64encode(b"autosaved:" + (state["case"] or b"")).decode()}
    if start.get("autosave_case_id"):
        params["case_id"] = start["autosave_case_id"]
    try:
        result = await ask("save_case", params)
        send({"type": "stopped", "reason": message.get("reason", ""), "autosaved": True,
              "case_id": result["case_id"]})
    except Exception as exc:  # noqa: BLE001
        send({"type": "stopped", "reason": message.get("reason", ""), "autosaved": False,
              "message": repr(exc)})
    out.flush()
    os._exit(0)


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    while line := await reader.readline():
        message = json.loads(line)
        kind = message.get("type")
        if kind == "start":
            state["start"] = message
            await serve(message)
        elif kind == "ping":
            send({"type": "pong", "id": message["id"],
                  "idle_s": time.monotonic() - state["last"], "dirty": False})
        elif kind == "reply":
            future = pending.pop(message["id"], None)
            if future is not None:
                future.set_result(message.get("result") if message["ok"] else
                                  {"error": message.get("error")})
        elif kind == "job":
            state["jobs"].append(message)
        elif kind == "notice":
            state["notices"].append(message)
        elif kind == "stop":
            tasks.add(asyncio.create_task(stop(message)))


asyncio.run(main())
