-- Idempotency-Key of POST /api/v1/jobs: one row per (user, key), written in the submit's
-- transaction before the job itself, so concurrent duplicates wait on the primary key and
-- then find the first one's job. request_sha256 tells a retry from a different request
-- under the same key. Rows are kept at least 24 h (older ones of a user are purged on that
-- user's next keyed submit).
CREATE TABLE job_idempotency (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    job_id         uuid REFERENCES jobs (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
