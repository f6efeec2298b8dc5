-- Web UI sign-ins: an API key exchanged for a session cookie. Only the SHA-256 of the cookie's
-- token is stored; the session ends at expires_at, when signed out, or when its key is revoked.
CREATE TABLE ui_sessions (
    token_hash  TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
