-- 005_prune_index: the index PruneIdempotency reads, idempotency records by
-- the time they were created, oldest first. {{schema}} is replaced by the
-- quoted schema name. On a schema that already has it the statement finds
-- nothing to do. Events are pruned in position order, through the index of
-- migration 004, and need none.
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON {{schema}}.idempotency_keys (created_at);
