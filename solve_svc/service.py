"""SolveService: the solve worker, a thin :class:`~common.worker_service.WorkerService`."""

from __future__ import annotations

from typing import ClassVar

import structlog
from aio_pika.abc import AbstractIncomingMessage

from common.amqp import topology
from common.worker_service import WorkerService
from solve_svc.settings import SolveSettings

log = structlog.get_logger(__name__)


class SolveService(WorkerService):
    """Serves ``system.ping`` on ``solve.rpc`` and consumes ``solve.commands``."""

    name = "solve"
    rpc_queue: ClassVar[str] = topology.SOLVE_RPC
    commands_queue: ClassVar[str] = topology.SOLVE_COMMANDS

    def __init__(self, settings: SolveSettings):
        super().__init__(settings)
        self.settings: SolveSettings = settings

    async def handle_command(self, message: AbstractIncomingMessage) -> None:
        """Placeholder: log the command and let the consumer ack it.

        The real commands (run/cancel a solve job) arrive in later
        issues; nothing sends any yet.
        """
        log.info("solve_command_ignored", type=message.type, message_id=message.message_id)
