-- One row that the storage probe rewrites: a write that needs free space and a live
-- database, so readiness checks notice a full disk before a run does.
CREATE TABLE storage_probe (
    id          INTEGER PRIMARY KEY,
    checked_at  BIGINT NOT NULL
);
INSERT INTO storage_probe (id, checked_at) VALUES (1, 0);
