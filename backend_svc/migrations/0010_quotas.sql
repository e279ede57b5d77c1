-- Quotas and usage (docs/quotas.md).

-- Overrides of the default quotas, for one user or one group; a quota with no row inherits
-- (a user: the most generous of their groups' rows, else the default of backend's settings).
CREATE TABLE quota_overrides (
    user_id  uuid REFERENCES users (id) ON DELETE CASCADE,
    group_id uuid REFERENCES groups (id) ON DELETE CASCADE,
    quota    text NOT NULL CHECK (quota IN
             ('queued_jobs', 'running_jobs', 'sessions', 'cpu_hours_month', 'storage_bytes')),
    value    bigint NOT NULL CHECK (value >= 0),
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX quota_overrides_user ON quota_overrides (user_id, quota)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX quota_overrides_group ON quota_overrides (group_id, quota)
    WHERE group_id IS NOT NULL;

-- The cores a job's attempts are given (backend's job_cpus when it was scheduled).
ALTER TABLE jobs ADD COLUMN cpus real NOT NULL DEFAULT 1;

-- Each attempt's run, for CPU usage: opened when a job turns running, closed when it leaves
-- running (finished, lost, cancelled). Kept by a trigger so no code path can forget it.
CREATE TABLE job_attempts (
    job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt    integer NOT NULL,
    user_id    uuid NOT NULL,
    app_id     uuid NOT NULL,
    cpus       real NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX job_attempts_period ON job_attempts (started_at, user_id);
CREATE INDEX job_attempts_open ON job_attempts (user_id) WHERE ended_at IS NULL;

CREATE FUNCTION job_attempts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'running' AND OLD.state IS DISTINCT FROM 'running' THEN
        INSERT INTO job_attempts (job_id, attempt, user_id, app_id, cpus)
        SELECT NEW.id, NEW.attempt, NEW.user_id, v.app_id, NEW.cpus
        FROM app_versions v WHERE v.id = NEW.app_version_id
        ON CONFLICT (job_id, attempt) DO NOTHING;
    ELSIF OLD.state = 'running' AND NEW.state <> 'running' THEN
        UPDATE job_attempts SET ended_at = now()
        WHERE job_id = NEW.id AND attempt = OLD.attempt AND ended_at IS NULL;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER job_attempts_track AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_attempts_track();

-- Usage of sessions over a period: those that overlap it.
CREATE INDEX sessions_started ON sessions (started_at) WHERE started_at IS NOT NULL;
