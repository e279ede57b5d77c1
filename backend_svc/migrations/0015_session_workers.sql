-- [HA] A session whose worker died is restarted elsewhere, not lost: backend tells a dead
-- worker (no report for a session lease) from a live one that dropped the session.

-- The last report (heartbeat) of each session worker, by its instance id.
CREATE TABLE session_workers (
    name           text PRIMARY KEY,
    last_report_at timestamptz NOT NULL DEFAULT now()
);
