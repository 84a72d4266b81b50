-- The catalog's resources (servicecatalog.k8s.io/v1beta1 kinds and Secrets), stored as whole JSON
-- objects. Every write appends to resource_log; the log's sequence number is the object's
-- resourceVersion, and watches resume by reading the log past a version.
CREATE TABLE resource_log (
    rv         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('ADDED', 'MODIFIED', 'DELETED')),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE resources (
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,  -- '' for cluster-scoped kinds
    name       TEXT NOT NULL,
    uid        TEXT NOT NULL UNIQUE,
    rv         INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

CREATE INDEX resources_by_kind_rv ON resources (kind, rv);

-- Facts about this installation (its id, when it was first started, …).
CREATE TABLE portal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
