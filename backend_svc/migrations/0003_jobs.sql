-- Jobs: what the scheduler, the leases and the workers' reports need.

-- Solve workers as they last reported themselves (capacity is trusted while fresh).
CREATE TABLE workers (
    name           text PRIMARY KEY,
    slots_total    integer NOT NULL CHECK (slots_total >= 0),
    slots_free     integer NOT NULL CHECK (slots_free >= 0),
    last_report_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE jobs
    ADD COLUMN options             jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN memory_mb           integer,
    ADD COLUMN progress_message    text,
    ADD COLUMN progress_event_at   timestamptz,  -- last progress event (rate limit)
    ADD COLUMN interrupted         boolean NOT NULL DEFAULT false,
    ADD COLUMN log_s3_key          text,
    ADD COLUMN lineage             jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN cancel_requested    boolean NOT NULL DEFAULT false,
    ADD COLUMN interrupt_requested boolean NOT NULL DEFAULT false;

CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state IN ('scheduled', 'running');
CREATE INDEX jobs_user_state ON jobs (user_id, state);

-- Wake the scheduler of any replica when a job is added or changes state.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('modelport_jobs', '');
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_state AFTER UPDATE OF state ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();
