-- See migrations/sqlite/0001_resources.sql: the same tables in PostgreSQL's dialect.
CREATE TABLE resource_log (
    rv         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE INDEX resources_by_kind_rv ON resources (kind, rv);

CREATE TABLE portal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
