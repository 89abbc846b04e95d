-- Search (full text over message text and chat names), kept in the same transaction as
-- every write.
--
-- confab tokenizes text itself (folding case, diacritics and width; Chinese and Japanese
-- as overlapping character pairs) and writes each document as a `tsvector` of those
-- words with their positions, so PostgreSQL's text-search configuration never changes a
-- word. Deleting a row deletes its document with it.

ALTER TABLE messages ADD COLUMN search tsvector;
ALTER TABLE chats ADD COLUMN name_search tsvector;
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX chats_name_search ON chats USING gin (name_search);

-- Rows written before this migration are indexed by the server when it starts, in
-- batches: ids up to `*_upto` are indexed up to `*_done`. New rows are indexed as they
-- are written.
CREATE TABLE search_backfill (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    messages_upto  BIGINT NOT NULL,
    messages_done  BIGINT NOT NULL,
    chats_upto     BIGINT NOT NULL,
    chats_done     BIGINT NOT NULL
);
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;
