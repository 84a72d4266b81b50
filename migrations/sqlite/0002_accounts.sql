-- People: local accounts, teams (= namespaces), roles, API tokens, sessions.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,                        -- argon2id PHC string; NULL for accounts without a password (e.g. OIDC later)
    platform_admin INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE teams (
    name         TEXT PRIMARY KEY,              -- a DNS-1123 label: the team's namespace
    display_name TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team    TEXT NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('member', 'team-admin')),
    PRIMARY KEY (user_id, team)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,          -- SHA-256 of the token (tokens are 256 random bits)
    prefix       TEXT NOT NULL,                 -- shown in lists so a person can tell tokens apart
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    record      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

