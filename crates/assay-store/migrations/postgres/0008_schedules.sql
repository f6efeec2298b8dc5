-- Schedules: a suite run again on a cron or interval cadence.
CREATE TABLE schedules (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL,
    team_id          TEXT NOT NULL,
    user_id          TEXT,
    name             TEXT NOT NULL,
    description      TEXT,
    suite_id         TEXT NOT NULL REFERENCES suites (id),
    suite_version    BIGINT,
    cron             TEXT,
    interval_seconds BIGINT,
    timezone         TEXT NOT NULL,
    overlap_policy   TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    webhook_url      TEXT,
    webhook_secret   TEXT,
    run_config       TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    -- The local executor's next slot (Unix seconds); NULL while paused.
    next_fire_at     BIGINT,
    -- buffer_one: a fire waits for the schedule's unfinished run to end.
    buffered         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);
CREATE INDEX schedules_owner ON schedules (org_id, team_id, seq);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE deleted_at IS NULL;

-- The schedule a run was fired by, and the fire's identity (one run per fire).
ALTER TABLE runs ADD COLUMN schedule_id TEXT;
ALTER TABLE runs ADD COLUMN fire_key TEXT;
CREATE UNIQUE INDEX runs_fire_key ON runs (fire_key);
CREATE INDEX runs_schedule ON runs (schedule_id, seq);

-- The webhook outbox: one row per status transition of a scheduled run whose schedule has a
-- webhook, written by the trigger below in the transaction that changes the status.
CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    schedule_id      TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    previous_status  TEXT,
    status           TEXT NOT NULL,
    occurred_at      BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    completed        BIGINT NOT NULL,
    failed           BIGINT NOT NULL,
    metrics          TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    delivered_at     BIGINT,
    gave_up_at       BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_deliveries_run ON webhook_deliveries (run_id, seq);

CREATE FUNCTION assay_scheduled_run_event() RETURNS trigger AS $$
DECLARE
    previous TEXT;
BEGIN
    IF NEW.schedule_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status = OLD.status THEN
            RETURN NULL;
        END IF;
        previous := OLD.status;
    END IF;
    INSERT INTO webhook_deliveries (id, schedule_id, run_id, previous_status, status, occurred_at,
        total, completed, failed, metrics, next_attempt_at, created_at)
    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), NEW.schedule_id, NEW.id, previous,
        NEW.status, NEW.updated_at, NEW.total, NEW.completed, NEW.failed, NEW.metrics,
        NEW.updated_at, NEW.updated_at
    FROM schedules WHERE schedules.id = NEW.schedule_id AND schedules.webhook_url IS NOT NULL;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER runs_scheduled_events AFTER INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION assay_scheduled_run_event();
