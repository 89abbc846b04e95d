-- Search documents gain each word's first four characters (its long head), so a
-- four-letter prefix reads one list instead of merging the lists of every word it
-- begins, as a three-letter one already does (see docs/architecture.md, "Search in the
-- store"). The documents written so far lack them: the index is emptied here and every
-- row is indexed again by the server when it next opens the database, before it serves
-- (the same backfill that indexed rows older than search; after 0012 it runs once).

INSERT INTO message_search (message_search) VALUES ('delete-all');
INSERT INTO chat_name_search (chat_name_search) VALUES ('delete-all');

DELETE FROM search_backfill;
INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done)
SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0,
       COALESCE((SELECT MAX(id) FROM chats), 0), 0;
