-- See migrations/sqlite/0001_resources.sql: the same tables in PostgreSQL's dialect.
CREATE TABLE resource_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rv BIGINT NOT NULL
);
INSERT INTO resource_version (id, rv) VALUES (1, 0);

CREATE TABLE resource_log (
    rv         BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('ADDED', 'MODIFIED', 'DELETED')),
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE resources (
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    uid        TEXT NOT NULL UNIQUE,
    rv         BIGINT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

CREATE TABLE portal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
