-- Organise and lifecycle (SPEC §9).
--
-- * `archived`, `pinned` (0/1) and `tags` (a JSON array of strings) organise a user's chats.
-- * `trashed_at`: when the chat was moved to the trash (`--trash-days`); NULL for a live
--   chat. A trashed chat is invisible to every route but the trash's own.
-- * `tenants.retention_days`: the tenant's own retention (NULL: the server's
--   `--retention-days`; 0: keep forever).
-- * `shares`: read-only snapshots of a chat's active path, served without credentials;
--   they go with their chat.

ALTER TABLE chats ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE chats ADD COLUMN trashed_at INTEGER;
ALTER TABLE tenants ADD COLUMN retention_days INTEGER;

-- The sweeper's two scans: trash past its days, and a tenant's chats idle past theirs.
CREATE INDEX chats_trashed ON chats (trashed_at) WHERE trashed_at IS NOT NULL;
CREATE INDEX chats_tenant_idle ON chats (tenant_id, updated_at);

CREATE TABLE shares (
    id          TEXT PRIMARY KEY NOT NULL,          -- 192 random bits, base64url
    chat_id     INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    snapshot    TEXT NOT NULL,                      -- the public answer, JSON
    created_at  INTEGER NOT NULL
);
CREATE INDEX shares_chat ON shares (chat_id);

