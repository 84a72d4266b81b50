-- The built-in broker's own records, in a SQLite file of its own (never the portal's database):
-- the service instances it provisioned, their bindings with the credentials it issued, and every
-- asynchronous operation with the wall-clock times that decide how and when it ends, so that an
-- operation started before a restart ends correctly after it. Times are unix milliseconds; JSON
-- columns hold text. Fault rules and the request log are deliberately not here (memory only).
CREATE TABLE instances (
    id               TEXT PRIMARY KEY,
    service_id       TEXT NOT NULL,
    plan_id          TEXT NOT NULL,
    parameters       TEXT NOT NULL,  -- JSON object, as sent, without the broker's own `_…` keys
    context          TEXT,           -- JSON
    maintenance_info TEXT,           -- JSON
    ready            INTEGER NOT NULL CHECK (ready IN (0, 1)),  -- 1 once a provision succeeded
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE bindings (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    service_id  TEXT NOT NULL,
    plan_id     TEXT NOT NULL,
    parameters  TEXT NOT NULL,  -- JSON object
    credentials TEXT NOT NULL,  -- JSON object: the broker's record of what it issued
    ready       INTEGER NOT NULL CHECK (ready IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX bindings_by_instance ON bindings (instance_id);

-- A resource's operations in the order they started (seq); the newest is the one in progress or
-- the last finished. Whoever reads the resource first after due_at settles the operation.
CREATE TABLE operations (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    instance_id    TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    binding_id     TEXT REFERENCES bindings (id) ON DELETE CASCADE,  -- NULL: the instance's own
    kind           TEXT NOT NULL CHECK (kind IN ('provision', 'update', 'deprovision', 'bind', 'unbind')),
    ending         TEXT NOT NULL CHECK (ending IN ('succeed', 'fail', 'never')),
    started_at     INTEGER NOT NULL,
    due_at         INTEGER NOT NULL,  -- when it ends, unless ending is 'never'
    pending_update TEXT,              -- updates only: JSON of the plan, parameters, maintenance_info to apply
    state          TEXT NOT NULL CHECK (state IN ('in progress', 'succeeded', 'failed')),
    description    TEXT NOT NULL,
    finished_at    INTEGER
);
CREATE INDEX operations_by_instance ON operations (instance_id, binding_id, seq);
CREATE INDEX operations_by_binding ON operations (binding_id, seq);
