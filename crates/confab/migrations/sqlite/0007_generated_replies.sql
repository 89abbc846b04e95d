-- Replies that confab generates (SPEC §8). A message of Part I is `complete`; a reply
-- starts `generating` and ends `complete`, `stopped`, `failed` or `interrupted`.
--
-- * `model`, `prompt_tokens`, `completion_tokens`: what produced the reply, and the usage
--   the provider reported (NULL when it reported none).
-- * `error_code`, `error_message`: why a reply failed or was interrupted.
-- * `stream_marks`: where each streamed delta ends in the text (UTF-8 byte offsets,
--   comma-separated), so any node can replay the deltas after a given `seq`.
-- * `generation_node`: the node producing a `generating` reply, so another node can mark
--   it `interrupted` when that node dies.

ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';
ALTER TABLE messages ADD COLUMN model TEXT;
ALTER TABLE messages ADD COLUMN prompt_tokens BIGINT;
ALTER TABLE messages ADD COLUMN completion_tokens BIGINT;
ALTER TABLE messages ADD COLUMN error_code TEXT;
ALTER TABLE messages ADD COLUMN error_message TEXT;
ALTER TABLE messages ADD COLUMN stream_marks TEXT;
ALTER TABLE messages ADD COLUMN generation_node TEXT;

-- Only running replies: the sweep for dead nodes and the 409 rule read this.
CREATE INDEX messages_generating ON messages (chat_id) WHERE status = 'generating';
