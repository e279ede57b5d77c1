-- Rights: roles instead of the admin flag, and per-app rights given to groups.

-- A user's role: 'admin' (everything), 'publisher' (may create apps and publish the apps they
-- have publish rights on), 'user'. The old flag stays, computed from the role, so a reader of
-- ``is_admin`` keeps working; only ``role`` is written.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user'
    CHECK (role IN ('admin', 'publisher', 'user'));
UPDATE users SET role = 'admin' WHERE is_admin;
ALTER TABLE users DROP COLUMN is_admin;
ALTER TABLE users ADD COLUMN is_admin boolean GENERATED ALWAYS AS (role = 'admin') STORED;

-- Which groups may use an app (see it, open sessions, submit jobs, upload cases) and which may
-- publish its versions. An app with no 'use' row is usable by every signed-in user. The app's
-- creator (apps.owner_id) may publish it without a row.
CREATE TABLE app_rights (
    app_id   uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind     text NOT NULL CHECK (kind IN ('use', 'publish')),
    PRIMARY KEY (app_id, kind, group_id)
);
CREATE INDEX app_rights_group ON app_rights (group_id);
