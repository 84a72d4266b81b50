-- The catalog's resources (servicecatalog.k8s.io/v1beta1 kinds and Secrets), stored as whole JSON
-- objects. Every write takes the next number from resource_version (which also serialises
-- writers), appends the new state to resource_log and updates resources; the number is the
-- object's resourceVersion, and watches resume by reading the log past a version.
CREATE TABLE resource_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rv INTEGER NOT NULL
);
INSERT INTO resource_version (id, rv) VALUES (1, 0);

CREATE TABLE resource_log (
    rv         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('ADDED', 'MODIFIED', 'DELETED')),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL  -- unix milliseconds
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

-- Facts about this installation (its id, when it was first started, …).
CREATE TABLE portal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
