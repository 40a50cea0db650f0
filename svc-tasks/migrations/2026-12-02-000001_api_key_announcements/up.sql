-- When the key's ApiKeyIssued (and, if revoked, ApiKeyRevoked) went into the outbox. Keys issued
-- before svc-tasks published key events stay NULL here; every svc-tasks instance announces
-- such keys at start-up (service::key_events::announce_backlog) and sets this in the same
-- transaction. New keys and revocations set it in the transaction that writes their event.
ALTER TABLE api_keys ADD COLUMN announced_at timestamptz;
CREATE INDEX api_keys_unannounced ON api_keys (created_at, id) WHERE announced_at IS NULL;
