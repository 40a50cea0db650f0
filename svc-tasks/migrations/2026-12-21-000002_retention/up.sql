-- Retention (the maintenance room) forgets Idempotency-Keys after a while; this index finds
-- the old ones without reading the others.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
