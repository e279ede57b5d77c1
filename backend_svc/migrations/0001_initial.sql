-- Initial schema: identities, registry, cases, sessions, jobs, audit log and the outbox.
-- Later features add columns and tables in new files; this one never changes once released.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE,
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'manager')),
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,          -- sha256 of the token; the token is never stored
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE runtimes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version       text NOT NULL UNIQUE,
    manifest      jsonb NOT NULL,
    s3_key        text NOT NULL,
    sha256        text NOT NULL,
    size_bytes    bigint NOT NULL,
    signer_key_id text NOT NULL,
    created_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE apps (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL UNIQUE,
    title             text NOT NULL DEFAULT '',
    owner_id          uuid REFERENCES users (id),
    active_version_id uuid,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_versions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    app_id              uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version             text NOT NULL,
    runtime_requirement text NOT NULL,
    manifest            jsonb NOT NULL,
    s3_key              text NOT NULL,
    sha256              text NOT NULL,
    size_bytes          bigint NOT NULL,
    created_by          uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_id, version)
);
ALTER TABLE apps ADD CONSTRAINT apps_active_version
    FOREIGN KEY (active_version_id) REFERENCES app_versions (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE cases (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id        uuid NOT NULL REFERENCES users (id),
    app_id          uuid NOT NULL REFERENCES apps (id),
    app_version_id  uuid REFERENCES app_versions (id),
    name            text NOT NULL,
    s3_key          text NOT NULL,
    sha256          text NOT NULL,
    size_bytes      bigint NOT NULL,
    shared_group_id uuid REFERENCES groups (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_owner ON cases (owner_id);

CREATE TABLE sessions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id),
    app_version_id   uuid NOT NULL REFERENCES app_versions (id),
    state            text NOT NULL DEFAULT 'requested' CHECK (state IN
                     ('requested', 'starting', 'ready', 'stopping', 'stopped', 'failed', 'lost')),
    reason           text,
    host             text,
    endpoint         text,
    attempt          integer NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id),
    app_version_id   uuid NOT NULL REFERENCES app_versions (id),
    procedure        text NOT NULL,
    input_case_id    uuid REFERENCES cases (id),
    output_case_id   uuid REFERENCES cases (id),
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN
                     ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'lost')),
    reason           text,
    priority         integer NOT NULL DEFAULT 0,
    attempt          integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    time_limit_s     integer,
    not_before       timestamptz,
    worker           text,
    lease_expires_at timestamptz,
    progress         real,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, created_at) WHERE state = 'queued';

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_id   uuid,
    actor_name text NOT NULL,
    action     text NOT NULL,
    subject    text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}'
);

-- Events written in the same transaction as the change they describe; the relay publishes
-- them in seq order and stamps published_at.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    type         text NOT NULL,
    source       text NOT NULL,
    subject      text,
    time         timestamptz NOT NULL DEFAULT now(),
    data         jsonb NOT NULL,
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('modelport_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
