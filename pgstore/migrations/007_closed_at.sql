-- 007_closed_at: the index PruneAuthorizations reads, the authorizations it
-- may delete by the time they closed, oldest first. {{schema}} is replaced
-- by the quoted schema name. Every statement finds nothing to do on a
-- schema that already has them, so applying it again changes nothing.

-- closed_at is Authorization.PrunableSince, the later of ClosedAt and
-- RefundableUntil (the end of the policy's refund window), truncated to
-- the microsecond while the authorization is closed with no provider
-- action in flight (pending_since IS NULL), and NULL otherwise: a write
-- keeps it so in the same statement as the rest. Adding the column
-- rewrites no row.
ALTER TABLE {{schema}}.authorizations ADD COLUMN IF NOT EXISTS closed_at TIMESTAMPTZ;

-- Only the authorizations PruneAuthorizations may delete are in it.
CREATE INDEX IF NOT EXISTS authorizations_closed_at ON {{schema}}.authorizations (closed_at)
	WHERE closed_at IS NOT NULL;

-- Authorizations closed before this migration: a status is terminal
-- exactly when the authorization is closed. This reads the table once and
-- rewrites the closed rows.
UPDATE {{schema}}.authorizations
SET closed_at = GREATEST((state->>'ClosedAt')::timestamptz,
	COALESCE((state->>'RefundableUntil')::timestamptz, (state->>'ClosedAt')::timestamptz))
WHERE closed_at IS NULL
	AND pending_since IS NULL
	AND status IN ('captured', 'voided', 'expired', 'declined', 'canceled')
	AND state->>'ClosedAt' IS NOT NULL;
