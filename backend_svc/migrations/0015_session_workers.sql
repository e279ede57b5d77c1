-- [HA] A session whose worker died is restarted elsewhere, not lost: backend tells a dead
-- worker (no report for a session lease, or a new process under its name) from a live one
-- that dropped the session.

-- The last report (heartbeat) of each session worker, by its instance id, and the start id
-- of the process that sent it (new per process).
CREATE TABLE session_workers (
    name           text PRIMARY KEY,
    boot           text NOT NULL DEFAULT '',
    last_report_at timestamptz NOT NULL DEFAULT now()
);

-- The start id of the worker process that claimed the session.
ALTER TABLE sessions ADD COLUMN worker_boot text NOT NULL DEFAULT '';
