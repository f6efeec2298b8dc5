-- Coding-agent runs: imported (written, never executed), their trajectories, and per-run
-- summaries of their trials that the agent leaderboard reads.

-- `executed` runs are driven by an executor; `imported` runs only receive writes (trials).
ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT 'executed';
-- An import's idempotency key, unique per owning team.
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX runs_idempotency ON runs (org_id, team_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Summaries of the run's trials, recomputed from its sample rows in the transaction that
-- writes them: spend summed over trials that reported one (NULL when none did), and the
-- wall seconds of the trials' `agent_execution` phase with how many trials were timed.
ALTER TABLE runs ADD COLUMN trial_cost_usd DOUBLE PRECISION;
-- The job's total spend as the import reported it (the run's `cost_usd` falls back to the
-- trials' sum), and the trial count it announced (`expected_trials`).
ALTER TABLE runs ADD COLUMN reported_cost_usd DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN expected_trials BIGINT;
ALTER TABLE runs ADD COLUMN agent_seconds DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN timed_trials BIGINT NOT NULL DEFAULT 0;
-- Steps summed over the run's uploaded trajectories (NULL when none was uploaded).
ALTER TABLE runs ADD COLUMN trajectory_steps BIGINT;
CREATE INDEX runs_agent ON runs (suite_id, agent_name, status);

-- Wall seconds of a trial's `agent_execution` phase, from its `phase_timings`.
ALTER TABLE samples ADD COLUMN agent_seconds DOUBLE PRECISION;

-- Per run and score key: trials with a numeric value, their sum, and how many reached 1.
CREATE TABLE run_score_stats (
    run_id   TEXT NOT NULL,
    metric   TEXT NOT NULL,
    scored   BIGINT NOT NULL,
    total    DOUBLE PRECISION NOT NULL,
    solved   BIGINT NOT NULL,
    PRIMARY KEY (run_id, metric)
);

-- One trajectory per sample; the payload lives in the blob store under `blob_key`.
CREATE TABLE trajectories (
    sample_id       TEXT PRIMARY KEY,
    run_id          TEXT NOT NULL,
    schema_version  TEXT NOT NULL,
    step_count      BIGINT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    blob_key        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX trajectories_run ON trajectories (run_id);
