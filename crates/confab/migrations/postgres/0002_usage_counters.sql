-- Usage counters for the storage quotas, kept in the same transaction as every write that
-- changes them: per chat its message count and message text bytes, per tenant its message
-- text bytes (the sum over its chats). Bytes are UTF-8 bytes of `messages.message`.

ALTER TABLE chats ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN message_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN message_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE chats SET
    message_count = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.id),
    message_bytes = (SELECT COALESCE(SUM(OCTET_LENGTH(m.message)), 0)
                     FROM messages m WHERE m.chat_id = chats.id);

UPDATE tenants SET
    message_bytes = (SELECT COALESCE(SUM(c.message_bytes), 0) FROM chats c WHERE c.tenant_id = tenants.id);
