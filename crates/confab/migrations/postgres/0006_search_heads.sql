-- Search documents gain each word's first three characters (its head), so a
-- three-letter prefix reads one list instead of merging the lists of every word it
-- begins (see docs/architecture.md, "Search in the store"). The documents written
-- so far lack them: every row's document is written again by the server when it next
-- opens the database, before it serves (the same backfill that indexed rows older than
-- search; it rewrites each row, so a large table grows until vacuumed).

DELETE FROM search_backfill;
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;
