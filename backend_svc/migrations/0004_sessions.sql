-- Data sessions: what the session workers, their leases and the portal need.

ALTER TABLE sessions
    ADD COLUMN message          text,                            -- the user's sentence on failure
    ADD COLUMN worker           text,                            -- the session worker holding it
    ADD COLUMN case_id          uuid REFERENCES cases (id) ON DELETE SET NULL,
    ADD COLUMN autosave_case_id uuid REFERENCES cases (id) ON DELETE SET NULL,
    ADD COLUMN stop_reason      text,                            -- a stop was asked (why)
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN ended_at         timestamptz,
    ADD COLUMN last_activity_at timestamptz;

CREATE INDEX sessions_user_state ON sessions (user_id, state);
CREATE INDEX sessions_leased ON sessions (lease_expires_at)
    WHERE state IN ('requested', 'starting', 'ready', 'stopping');
