-- Keys over their life: a public id that names a key (never part of it), how its hash was made
-- (plain SHA-256 before key secrets; HMAC-SHA-256 under the server's key secret since), an
-- optional label, the end of a rotation's grace period, and a revocation. Accounts an operator
-- switched off.
ALTER TABLE api_keys ADD COLUMN key_id TEXT;
ALTER TABLE api_keys ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
ALTER TABLE api_keys ADD COLUMN label TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
UPDATE api_keys SET key_id = 'k_' || lower(hex(randomblob(6))) WHERE key_id IS NULL;
CREATE UNIQUE INDEX api_keys_key_id ON api_keys (key_id);

ALTER TABLE accounts ADD COLUMN disabled_at INTEGER;
ALTER TABLE accounts ADD COLUMN disabled_reason TEXT;

-- POST /v1/accounts with an Idempotency-Key: a retry finds the account the first request
-- created (and a fingerprint of that request, so a different one under the same key is refused).
ALTER TABLE accounts ADD COLUMN idempotency_key TEXT;
ALTER TABLE accounts ADD COLUMN creation_fingerprint TEXT;
CREATE UNIQUE INDEX accounts_idempotency_key ON accounts (idempotency_key);
