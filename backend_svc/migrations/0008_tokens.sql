-- Personal API tokens: a kind (sign-in tokens of the browser and `modelport login`, or personal
-- tokens made by their owner) and a scope (docs/security.md, "Token scopes"). Existing tokens
-- are sign-in tokens with every right, as before.
ALTER TABLE api_tokens
    ADD COLUMN kind  text NOT NULL DEFAULT 'login' CHECK (kind IN ('login', 'personal')),
    ADD COLUMN scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('read', 'jobs', 'full'));
CREATE INDEX api_tokens_user_live ON api_tokens (user_id) WHERE revoked_at IS NULL;
