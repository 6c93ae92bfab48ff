-- The audit log: every admin action and every burst of failed authentications. Never a secret.
-- seq orders entries written in the same second; id (a UUID) makes copying between stores idempotent.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    source_ip TEXT NOT NULL,
    trace_id  TEXT NOT NULL,
    details   TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at, seq);
