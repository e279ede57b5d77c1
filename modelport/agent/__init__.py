"""The agent: runs one procedure of an app inside a runtime container.

``python -m modelport.agent run --app DIR --procedure NAME [--input CASE] --output CASE
[--options JSON]`` loads the app, runs the procedure on the input case (or the app's
defaults), writes the result case with its lineage, and reports on stdout in JSON Lines.
The host side reads those lines with ``modelport.agent.protocol.parse_line``.
See docs/agent.md.
"""

from modelport.agent.protocol import (
    EXIT_APP_EXCEPTION,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    PROTOCOL_VERSION,
    AgentEvent,
    ErrorEvent,
    LogEvent,
    ProgressEvent,
    ResultEvent,
    StartedEvent,
    parse_line,
)

__all__ = [
    "EXIT_APP_EXCEPTION",
    "EXIT_INTERNAL",
    "EXIT_INVALID",
    "EXIT_OK",
    "PROTOCOL_VERSION",
    "AgentEvent",
    "ErrorEvent",
    "LogEvent",
    "ProgressEvent",
    "ResultEvent",
    "StartedEvent",
    "parse_line",
]
