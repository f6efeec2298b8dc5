-- API keys, files, suites and suite versions.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    is_admin    BIGINT NOT NULL,
    label       TEXT,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE files (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL,
    team_id      TEXT NOT NULL,
    user_id      TEXT,
    filename     TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX files_owner ON files (org_id, team_id, seq);
CREATE INDEX files_sha256 ON files (sha256);

CREATE TABLE suites (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    org_id         TEXT NOT NULL,
    team_id        TEXT NOT NULL,
    user_id        TEXT,
    name           TEXT NOT NULL,
    description    TEXT,
    metadata       TEXT NOT NULL,
    active_version BIGINT NOT NULL,
    latest_version BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX suites_owner ON suites (org_id, team_id, seq);

CREATE TABLE suite_versions (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    suite_id         TEXT NOT NULL REFERENCES suites (id),
    version          BIGINT NOT NULL,
    manifest         TEXT NOT NULL,
    dataset_file_ids TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (suite_id, version)
);
