-- Hugging Face dataset files downloaded whole, kept in the blob store by (repo, commit, path)
-- so a second run over the same revision does not download them again.
CREATE TABLE hub_files (
    repo        TEXT NOT NULL,
    revision    TEXT NOT NULL,
    path        TEXT NOT NULL,
    blob_key    TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repo, revision, path)
);

-- The commit each Hugging Face dataset of a run was read at: {"<task>/<field>": {"repo",
-- "revision", "commit", "config", "split", "files"}}; a re-planned run reads the same commit.
ALTER TABLE runs ADD COLUMN dataset_revisions TEXT;
