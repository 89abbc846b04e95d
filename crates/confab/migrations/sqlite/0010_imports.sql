-- Imports (SPEC §10): the conversation a chat was imported from, as
-- `<format>:<source id>` (`chatgpt:…`, `openwebui:…`, `confab:<uuid>`), NULL for a chat
-- made here. Unique per tenant: importing the same conversation again is skipped, and
-- two imports racing for it store it once.

ALTER TABLE chats ADD COLUMN source_id TEXT;
CREATE UNIQUE INDEX chats_tenant_source ON chats (tenant_id, source_id) WHERE source_id IS NOT NULL;

-- An export walks a tenant's chats in id order, a page at a time.
CREATE INDEX chats_tenant_id ON chats (tenant_id, id);
