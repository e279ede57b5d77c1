"""The agent's session mode: one app's data held in memory, served as the WebUI and a JSON
data API on one HTTP port, with the platform reached over a control channel (docs/agent.md
§4-§6). ``data`` holds and validates the data, ``service`` is the session's operations,
``web`` its HTTP side, ``live`` the WebSockets, ``platform``/``channel`` the way out, and
``main`` the ``session`` command."""
