"""session_svc's settings (``MODELPORT_*``; the Docker hosts come from ``MODELPORT_DOCKER_*``,
S3 from ``MODELPORT_S3_*`` and the platform key from ``MODELPORT_PLATFORM_KEY_FILE``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    """Settings of session_svc: the shared ones plus how data sessions run."""

    status_port: int = Field(8092, ge=0, le=65535, description="/healthz and /readyz port.")
    report_interval_s: float = Field(
        5.0, gt=0, description="Seconds between heartbeats (renew session leases, idle times)."
    )
    session_memory_mb: int = Field(512, ge=64, description="Memory limit of a session.")
    session_cpus: float = Field(1.0, gt=0, description="CPUs a session container may use.")
    session_pids: int = Field(128, ge=8, description="Processes/threads of a session.")
    session_tmp_mb: int = Field(64, ge=1, description="Size of a session's /tmp (tmpfs).")
    session_work_mb: int = Field(
        1024, ge=1, description="Size of a session's writable /work (a tmpfs volume; past it "
        "writes fail with ENOSPC). The container's own writes count against its memory limit."
    )
    warm_sessions: int = Field(
        0, ge=0, le=64, description="Idle pre-started session containers kept per runtime and "
        "host (the sessions' own warm pool); 0 turns it off."
    )
    network: str = Field(
        "modelport-sessions", min_length=1, description="The isolated Docker network sessions "
        "join (created when missing: internal, no traffic between containers)."
    )
    firewall: bool = Field(
        True, description="Install the host rules that drop connections from the sessions "
        "network to the host itself (iptables; needs root on a local engine). Off only where "
        "the operator installs them (docs/sessions.md)."
    )
    agent_command: list[str] = Field(
        default_factory=lambda: ["python", "-m", "modelport.agent", "session"],
        description="The agent's session mode inside the runtime container (JSON list).")
    agent_port: int = Field(8765, ge=1, le=65535, description="Port the agent serves on.")
    room_wait_s: float = Field(
        60.0, ge=0, le=3600, description="A session that finds no room on any Docker host "
        "waits this long for some (a host back from down, another session ended; it stays "
        "`starting`) before it fails `no_capacity`. 0: fail at once.")
    start_timeout_s: float = Field(
        60.0, gt=0, description="A session whose agent does not answer within this fails."
    )
    idle_timeout_s: float = Field(
        3600.0, gt=0, description="A session no page used for this long is saved and stopped."
    )
    idle_warning_s: float = Field(
        300.0, ge=0, description="The page is warned this long before the idle stop."
    )
    autosave_s: float = Field(300.0, ge=0, description="The agent autosaves this often.")
    stop_timeout_s: float = Field(
        30.0, gt=0, description="Time the agent gets to autosave and exit on a stop."
    )
    max_case_mb: int = Field(32, ge=1, le=32, description="Largest case a session saves.")
