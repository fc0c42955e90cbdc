-- 004_events_position: the index AllEvents reads, the stamped events of
-- every merchant in position order. {{schema}} is replaced by the quoted
-- schema name. On a schema that already has it the statement finds nothing
-- to do. Positions are handed out once across the whole store, so the index
-- is unique.
CREATE UNIQUE INDEX IF NOT EXISTS events_position ON {{schema}}.events (position)
	WHERE position IS NOT NULL;
