"""solve_svc's settings (``MODELPORT_*``; the Docker hosts come from ``MODELPORT_DOCKER_*``,
S3 from ``MODELPORT_S3_*`` and the platform key from ``MODELPORT_PLATFORM_KEY_FILE``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import JobDefaults, ServiceSettings


class SolveSettings(ServiceSettings, JobDefaults):
    """Settings of solve_svc: the shared ones plus how jobs are run."""

    status_port: int = Field(8093, ge=0, le=65535, description="/healthz and /readyz port.")
    report_interval_s: float = Field(
        5.0, gt=0, description="Seconds between WorkerReport heartbeats (renew job leases)."
    )
    job_pids: int = Field(256, ge=8, description="Processes/threads a job container may run.")
    job_work_mb: int = Field(
        1024, ge=1, description="Size of a job container's writable /work (a tmpfs volume: the "
        "app, the input case and whatever the app writes; past it writes fail with ENOSPC). "
        "The container's own writes count against its memory limit."
    )
    log_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest job log kept; later lines are dropped "
        "(the log says so)."
    )
    progress_interval_s: float = Field(
        0.2, ge=0, description="At most one JobProgress RPC per job per this many seconds."
    )
    storage_wait_s: float = Field(
        60.0, ge=0, description="How long a job's object-storage steps (runtime, app and case "
        "in, result and log out) retry while S3 is unreachable before the job fails."
    )
    work_dir: str = Field("", description="Where app packages are decrypted on the worker "
                          "host (a temp folder per attempt); empty: the system temp dir.")
