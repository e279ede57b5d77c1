-- [HA] Sessions restarted after a host failure, and Idempotency-Key of POST /api/v1/sessions.

-- When the session's autosave was last written: the user is told the data they get back
-- after a restart is "as of the autosave at HH:MM:SS".
ALTER TABLE sessions ADD COLUMN autosaved_at timestamptz;

-- Idempotency-Key of POST /api/v1/sessions: the same rules as job_idempotency (0007).
CREATE TABLE session_idempotency (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    session_id     uuid REFERENCES sessions (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
