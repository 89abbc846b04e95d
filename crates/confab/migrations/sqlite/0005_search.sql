-- Search (full text over message text and chat names), kept in the same transaction as
-- every write.
--
-- confab tokenizes text itself (folding case, diacritics and width; Chinese and Japanese
-- as overlapping character pairs) and stores each document as its words separated by
-- spaces; FTS5's `ascii` tokenizer then splits on those spaces and nothing else that
-- matters. The tables are contentless (the text lives in `messages` and `chats`), with
-- `contentless_delete` so a row can be removed by its rowid alone. The rowid is the
-- message's (or chat's) id.
--
-- Inserting documents is the server's job (it has the tokenizer); removing them is the
-- triggers' job, so no deletion path (delete-last, chat delete, a cascade from a user or
-- tenant) can leave a stale entry. A rename removes the old name here and the server
-- indexes the new one in the same transaction.
--
-- Each word is marked with its tenant (`t<first 48 bits of the tenant id in hex>x<word>`,
-- which no two tenants share), so a search only
-- ever matches its own tenant's words, and `scope` holds the chat's `c<uuid in hex>` and
-- `u<user id>`. A search ANDs the caller's scope words with its query, so FTS5
-- intersects them while it matches and ranks only what the caller may see (ranking gives
-- `scope` no weight).

CREATE VIRTUAL TABLE message_search USING fts5(
    terms, scope, content = '', contentless_delete = 1, tokenize = 'ascii'
);
CREATE VIRTUAL TABLE chat_name_search USING fts5(
    terms, scope, content = '', contentless_delete = 1, tokenize = 'ascii'
);

-- Merge segments 8 at a time (FTS5's default is 4): fewer merges on the write path, at
-- a small cost in segments per search.
INSERT INTO message_search (message_search, rank) VALUES ('automerge', 8);

CREATE TRIGGER message_search_forget AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
END;
CREATE TRIGGER chat_name_search_forget AFTER DELETE ON chats BEGIN
    DELETE FROM chat_name_search WHERE rowid = old.id;
END;
CREATE TRIGGER chat_name_search_rename AFTER UPDATE OF name ON chats BEGIN
    DELETE FROM chat_name_search WHERE rowid = old.id;
END;

-- Rows written before this migration are indexed by the server when it starts, in
-- batches: ids up to `*_upto` are indexed up to `*_done`. New rows are indexed as they
-- are written.
CREATE TABLE search_backfill (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    messages_upto  INTEGER NOT NULL,
    messages_done  INTEGER NOT NULL,
    chats_upto     INTEGER NOT NULL,
    chats_done     INTEGER NOT NULL
);
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;
