-- Indexes for the revocation watcher: every node polls, several times a second, for
-- API keys and sessions revoked or expired since its last poll, so it can close the
-- WebSockets opened with them. Each poll is one short range scan per index, whatever
-- the number of keys, sessions or open sockets.

CREATE INDEX IF NOT EXISTS api_keys_revoked ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
