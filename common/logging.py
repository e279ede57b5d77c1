"""structlog set-up: JSON in production, readable in a terminal.

Only ``__main__`` modules call :func:`configure_logging`; library code just asks
``structlog.get_logger(__name__)``. Correlation ids travel in contextvars: bind them with
:func:`bind_correlation` around the handling of one request or message.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import structlog

_REDACT = {"password", "token", "secret", "authorization", "cookie"}


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in _REDACT):
            event[key] = "***"
    return event


def configure_logging(fmt: str = "auto", level: str = "info", service: str = "") -> None:
    """Route structlog and stdlib logging to stderr in ``fmt`` (json|console|auto)."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper())
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


@contextlib.contextmanager
def bind_correlation(correlation_id: str | None, **extra: object) -> Iterator[None]:
    """Bind a correlation id (and extras) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id, **extra):
        yield


def current_correlation_id() -> str | None:
    """The correlation id bound in this context, if any."""
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value else None
