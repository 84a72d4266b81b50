-- Governance: approval policies and requests, team quotas and their ledger, plan visibility, audit.
-- Classes and plans are named by their external names (what an instance's spec names).

CREATE TABLE approval_policies (
    id         INTEGER PRIMARY KEY,
    class      TEXT NOT NULL,                   -- class external name
    plan       TEXT NOT NULL DEFAULT '',        -- '' = every plan of the class
    operation  TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    rule       TEXT NOT NULL CHECK (rule IN ('always', 'never', 'threshold')),
    parameter  TEXT NOT NULL DEFAULT '',        -- for 'threshold': the numeric parameter
    threshold  REAL NOT NULL DEFAULT 0,         -- for 'threshold': approval when parameter > threshold
    approver   TEXT NOT NULL DEFAULT 'team-admin' CHECK (approver IN ('team-admin', 'platform-admin')),
    created_at INTEGER NOT NULL
);

CREATE TABLE approval_requests (
    id              INTEGER PRIMARY KEY,
    team            TEXT NOT NULL,
    instance        TEXT NOT NULL,
    operation       TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    class           TEXT NOT NULL,
    plan            TEXT NOT NULL,
    parameters      TEXT NOT NULL,              -- JSON object: what the requester asked for
    previous        TEXT,                       -- JSON {plan, parameters, resourceVersion} before an update
    reason          TEXT NOT NULL,              -- why policy holds it
    approver        TEXT NOT NULL CHECK (approver IN ('team-admin', 'platform-admin')),
    requester       TEXT NOT NULL,              -- JSON user info: username, uid, groups
    state           TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'failed')),
    decided_by      TEXT,
    decided_at      INTEGER,
    comment         TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
CREATE INDEX approval_requests_state ON approval_requests (state, team);
CREATE INDEX approval_requests_instance ON approval_requests (team, instance);

CREATE TABLE quota_limits (
    team      TEXT NOT NULL,
    metric    TEXT NOT NULL CHECK (metric IN ('count', 'sum')),
    class     TEXT NOT NULL DEFAULT '',         -- '' = every class (sum limits)
    plan      TEXT NOT NULL DEFAULT '',         -- '' = every plan of the class
    parameter TEXT NOT NULL DEFAULT '',         -- for 'sum'
    max_value REAL NOT NULL CHECK (max_value >= 0),
    PRIMARY KEY (team, metric, class, plan, parameter)
);

-- What each instance (or pending request) of a team holds against the team's quotas; written in
-- the same transaction as the check, so concurrent requests cannot overbook.
CREATE TABLE quota_ledger (
    team            TEXT NOT NULL,
    instance        TEXT NOT NULL,
    class           TEXT NOT NULL,
    plan            TEXT NOT NULL,
    amounts         TEXT NOT NULL,              -- JSON {parameter: number}
    pending_plan    TEXT,                       -- an update waiting for approval reserves both
    pending_amounts TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (team, instance)
);

CREATE TABLE plan_visibility (
    class TEXT NOT NULL,
    plan  TEXT NOT NULL DEFAULT '',             -- '' = the whole class
    team  TEXT NOT NULL,
    PRIMARY KEY (class, plan, team)
);

CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,                    -- unix milliseconds
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    team   TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',          -- JSON
    source TEXT NOT NULL DEFAULT ''             -- the client's address
);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
