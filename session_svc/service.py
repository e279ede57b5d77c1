"""SessionService: the session worker, a thin :class:`~common.worker_service.WorkerService`."""

from __future__ import annotations

from typing import ClassVar

import structlog
from aio_pika.abc import AbstractIncomingMessage

from common.amqp import topology
from common.worker_service import WorkerService
from session_svc.settings import SessionSettings

log = structlog.get_logger(__name__)


class SessionService(WorkerService):
    """Serves ``system.ping`` on ``session.rpc`` and consumes ``session.commands``."""

    name = "session"
    rpc_queue: ClassVar[str] = topology.SESSION_RPC
    commands_queue: ClassVar[str] = topology.SESSION_COMMANDS

    def __init__(self, settings: SessionSettings):
        super().__init__(settings)
        self.settings: SessionSettings = settings

    async def handle_command(self, message: AbstractIncomingMessage) -> None:
        """Placeholder: log the command and let the consumer ack it.

        The real commands (start/stop/snapshot a data session) arrive in later
        issues; nothing sends any yet.
        """
        log.info("session_command_ignored", type=message.type, message_id=message.message_id)
