-- The audit log says from where (the client's address), is read by filters newest first, and
-- is append-only: no UPDATE, DELETE or TRUNCATE, whoever the connection's role (a superuser
-- included; only dropping the trigger, which needs the table's owner, lifts it). Docker hosts:
-- the drained state an admin set (it applies to every worker on the host and survives
-- their restarts) and the load each worker last reported.
ALTER TABLE audit_log ADD COLUMN client_ip text NOT NULL DEFAULT '';
CREATE INDEX audit_log_actor ON audit_log (actor_name, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
CREATE INDEX audit_log_subject ON audit_log (subject, id DESC);
CREATE INDEX audit_log_at ON audit_log (at, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

CREATE TABLE docker_hosts (
    name       text PRIMARY KEY,
    drained    boolean NOT NULL DEFAULT false,
    drained_by text,
    drained_at timestamptz
);

CREATE TABLE docker_host_reports (
    host           text NOT NULL REFERENCES docker_hosts (name) ON DELETE CASCADE,
    worker         text NOT NULL,
    zone           text NOT NULL,
    healthy        boolean NOT NULL,
    slots          integer NOT NULL,
    used_slots     integer NOT NULL,
    memory_mb      integer NOT NULL,
    used_memory_mb integer NOT NULL,
    reported_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, worker)
);
