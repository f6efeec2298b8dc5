-- Model answers by request key, shared across runs (`generation.use_cache`).
CREATE TABLE response_cache (
    cache_key   TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
