-- A finished run's per-sample scores, one row per task × model, stored column by column at
-- finalization: the sample indexes and, for each metric, the values in the same order (NaN
-- where a sample has none), as little-endian arrays. Comparing two runs reads two rows
-- instead of every sample.
CREATE TABLE run_score_columns (
    run_id          TEXT NOT NULL,
    task_id         TEXT NOT NULL,
    model           TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    sample_indexes  BLOB NOT NULL,
    scores          BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (run_id, model, task_id)
);
