-- Several portal processes on one database share the reconcile work: a process reconciles an
-- object only while it holds that object's lease (expired leases are taken over).
CREATE TABLE reconcile_leases (
    target     TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL  -- unix milliseconds
);
