-- Erasures that the nodes' revocation watchers read (SPEC §9): `confab user delete`
-- erases from another process, so the running servers learn from the database which
-- chats went and which sessions ended with their user, and close those sockets. Rows
-- are kept about an hour (each erasure prunes older ones); the watcher looks back far
-- less than that.

CREATE TABLE erased_chats (
    chat_id     INTEGER PRIMARY KEY NOT NULL,
    chat_uuid   TEXT NOT NULL,
    version     INTEGER NOT NULL,                    -- the chat's version when erased
    erased_at   INTEGER NOT NULL
);
CREATE INDEX erased_chats_at ON erased_chats (erased_at);

CREATE TABLE ended_sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,        -- SHA-256 of the cookie value
    ended_at    INTEGER NOT NULL
);
CREATE INDEX ended_sessions_at ON ended_sessions (ended_at);
