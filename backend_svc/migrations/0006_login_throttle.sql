-- Sign-in lockout: wrong passwords in a row per username (known or not), and until when the
-- name is locked. A correct password deletes the row.
CREATE TABLE login_failures (
    username        text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failure_at timestamptz NOT NULL DEFAULT now()
);
