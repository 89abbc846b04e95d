-- Search documents gain the pairs of adjacent common words (`'+of0the'`, without
-- positions), so a phrase holding such a pair checks the positions of only the
-- documents that hold the pair, not of every document holding its words (see
-- docs/architecture.md, "Search in the store"). The documents written so far lack them:
-- every row's document is written again by the server when it next opens the database,
-- before it serves, as after 0006.

DELETE FROM search_backfill;
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;
