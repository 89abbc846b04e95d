-- Search documents gain their chat's marks (`'#<chat uuid>'`, and `'@<user id>'` when a
-- user owns the chat), so a search of one user's or one chat's messages intersects the
-- GIN index's lists with that user's or chat's list instead of walking their messages
-- (see docs/architecture.md, "Search in the store"). The documents written so far lack
-- them: every row's document is written again by the server when it next opens the
-- database, before it serves, as after 0011.

DELETE FROM search_backfill;
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;

-- A document stays in its row (compressed if need be) rather than in the TOAST table
-- when the row is long; the long message text moves out first. A phrase search checks
-- each candidate's document, and an out-of-line one cost a TOAST index lookup and its
-- chunks' pages (a phrase of 40,000 candidates: 107 ms against 75 ms inline). The
-- rewrite above applies this to every row.
ALTER TABLE messages ALTER COLUMN search SET STORAGE MAIN;
