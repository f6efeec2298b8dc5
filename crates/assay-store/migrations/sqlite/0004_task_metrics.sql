-- Metrics computed over a whole task rather than averaged over its samples (e.g. the
-- Spearman correlation of an STS embedding task), one row per (run, task, model).
CREATE TABLE run_task_metrics (
    run_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    model       TEXT NOT NULL,
    metrics     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (run_id, task_id, model)
);
