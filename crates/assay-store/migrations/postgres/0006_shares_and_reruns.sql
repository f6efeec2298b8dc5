-- Read-only grants of a suite (its versions and runs) to another org.
CREATE TABLE suite_shares (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    suite_id    TEXT NOT NULL REFERENCES suites (id),
    org_id      TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (suite_id, org_id)
);
CREATE INDEX suite_shares_org ON suite_shares (org_id, suite_id);

-- Samples re-queued by rerun-failed (summed over reruns), and which finalization round the
-- run's artifacts belong to (a rerun writes new ones).
ALTER TABLE runs ADD COLUMN retried BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN artifact_round BIGINT NOT NULL DEFAULT 0;
