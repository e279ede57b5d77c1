"""A job's log stored with its result (while the container is removed) is reused for the
finished report only while it is still whole; anything written after it means storing again."""

from __future__ import annotations

import hashlib
from pathlib import Path

from common.contracts.jobs import attempt_key
from common.settings import S3Settings
from common.storage import S3Storage
from solve_svc.joblog import JobLog, store_log

JOB = "0b8f7d2e-3b7a-4f0e-9c1e-2a4d5f6e7a8b"


async def test_the_stored_log_is_what_was_written_and_whole_until_a_line_is_added(
    s3_settings: S3Settings, tmp_path: Path
) -> None:
    joblog = JobLog(tmp_path / "job.log", max_bytes=10_000)
    joblog.write("app", "Optimal objective 153.675")
    async with S3Storage(s3_settings) as storage:
        stored = await store_log(storage, JOB, 2, joblog)

        assert stored is not None
        written = (tmp_path / "job.log").read_bytes()
        assert written == b"[app] Optimal objective 153.675\n"
        assert await storage.read_bytes(stored.ref.s3_key) == written
        assert stored.ref.s3_key == attempt_key(JOB, 2, "log")
        assert stored.ref.sha256 == hashlib.sha256(written).hexdigest()
        assert stored.still_whole(joblog)

        joblog.write("solve", "the platform could not run this job: BadResult")
        assert not stored.still_whole(joblog)
    joblog.close()


async def test_a_log_that_dropped_lines_is_never_whole_before_its_note(
    s3_settings: S3Settings, tmp_path: Path
) -> None:
    joblog = JobLog(tmp_path / "job.log", max_bytes=40)
    joblog.write("app", "x" * 30)
    joblog.write("app", "y" * 30)  # over the cap: dropped, closing adds a note about it
    async with S3Storage(s3_settings) as storage:
        stored = await store_log(storage, JOB, 1, joblog)
    assert stored is not None
    joblog.close()
    assert not stored.still_whole(joblog)
    assert b"1 more lines dropped" in (tmp_path / "job.log").read_bytes()
