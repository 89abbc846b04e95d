-- confab schema, PostgreSQL: the same tables, columns, indexes and constraints as the
-- SQLite schema. Timestamps are BIGINT microseconds since the Unix epoch (UTC); every
-- integer column is BIGINT so one Rust type (i64) decodes it on both engines; uuids are
-- TEXT as on SQLite. Sortable text columns use the "C" collation, which compares bytes
-- like SQLite's BINARY collation, so `order_by=name:asc` lists chats in the same order.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,          -- uuid
    name        TEXT NOT NULL,
    is_default  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
-- At most one default tenant: the one that sign-up puts new users in.
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,        -- uuid
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,             -- public part of the key, for lookup
    secret_hash   BYTEA NOT NULL,                   -- SHA-256 of the whole key
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    email_lower    TEXT NOT NULL,
    password_hash  TEXT NOT NULL,                   -- argon2id PHC string
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, email_lower)
);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY NOT NULL,         -- SHA-256 of the cookie value
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE chats (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    model       TEXT COLLATE "C" NOT NULL,
    metadata    TEXT,                               -- JSON object, tenant API only
    version     BIGINT NOT NULL DEFAULT 0,          -- bumped by every change; orders live events
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX chats_user ON chats (user_id, updated_at);
CREATE INDEX chats_tenant_newest ON chats (tenant_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id          BIGSERIAL PRIMARY KEY,
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL CHECK (actor IN ('user', 'assistant', 'system')),
    message     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX messages_chat_order ON messages (chat_id, created_at, id);

CREATE TABLE files (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id     BIGINT,
    title       TEXT NOT NULL,
    text        TEXT NOT NULL,
    language    TEXT NOT NULL,
    extension   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX files_chat ON files (chat_id, message_id, id);
CREATE INDEX files_message ON files (message_id);
