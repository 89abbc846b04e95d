-- confab schema, SQLite. Timestamps are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,          -- uuid
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
-- At most one default tenant: the one that sign-up puts new users in.
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,        -- uuid
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,             -- public part of the key, for lookup
    secret_hash   BLOB NOT NULL,                    -- SHA-256 of the whole key
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    email_lower    TEXT NOT NULL,
    password_hash  TEXT NOT NULL,                   -- argon2id PHC string
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, email_lower)
);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,          -- SHA-256 of the cookie value
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE chats (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    model       TEXT NOT NULL,
    metadata    TEXT,                               -- JSON object, tenant API only
    version     INTEGER NOT NULL DEFAULT 0,         -- bumped by every change; orders live events
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX chats_user ON chats (user_id, updated_at);
CREATE INDEX chats_tenant_newest ON chats (tenant_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL CHECK (actor IN ('user', 'assistant', 'system')),
    message     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX messages_chat_order ON messages (chat_id, created_at, id);

CREATE TABLE files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id     INTEGER,
    title       TEXT NOT NULL,
    text        TEXT NOT NULL,
    language    TEXT NOT NULL,
    extension   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX files_chat ON files (chat_id, message_id, id);
CREATE INDEX files_message ON files (message_id);
