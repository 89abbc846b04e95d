-- The message tree (edit, regenerate, branches). Every message names the message it
-- follows (`parent_id`, NULL for a chat's first messages); every chat names the leaf of
-- its active branch (`current_message_id`, NULL while it has no messages).
--
-- The active path is kept materialised: `path_chat_id` is the chat's id on the messages
-- of its active path and NULL on every other branch. Reading the active path is then
-- one range of an index, as cheap as reading a chat before the tree existed, whatever
-- the tree's size; a branch switch or an edit rewrites only the part of the path that
-- changed.
--
-- `branched` is set (for good) the first time a chat gains a second child anywhere.
-- Until then every message is its parent's only child, and lists need no sibling query.
--
-- Existing chats become chains: each message's parent is the one before it in
-- (created_at, id) order; all of it is the active path; the last message is current.

ALTER TABLE messages ADD COLUMN parent_id INTEGER;
ALTER TABLE messages ADD COLUMN path_chat_id INTEGER;
ALTER TABLE chats ADD COLUMN current_message_id INTEGER;
ALTER TABLE chats ADD COLUMN branched INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET parent_id = chained.previous
FROM (
    SELECT id, LAG(id) OVER (PARTITION BY chat_id ORDER BY created_at, id) AS previous
    FROM messages
) AS chained
WHERE messages.id = chained.id AND chained.previous IS NOT NULL;

UPDATE messages SET path_chat_id = chat_id;

UPDATE chats SET current_message_id = (
    SELECT m.id FROM messages m WHERE m.chat_id = chats.id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1
);

-- The active path, in order.
CREATE INDEX messages_path ON messages (path_chat_id, created_at, id);
-- Children of a message (siblings, subtrees); a chat's first messages under NULL.
CREATE INDEX messages_children ON messages (chat_id, parent_id);
