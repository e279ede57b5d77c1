-- OpenID Connect sign-in (docs/security.md, "Single sign-on"): a user may be linked to
-- identities at providers, each known by (issuer, subject) — never by e-mail, which a
-- provider may let its users change. A user created by a sign-in has no password (NULL): the
-- password check then runs against a dummy hash, so such names answer like unknown ones.

CREATE TABLE user_identities (
    issuer         text NOT NULL,
    subject        text NOT NULL,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_signin_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
