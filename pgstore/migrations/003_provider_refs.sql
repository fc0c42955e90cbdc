-- 003_provider_refs: the index of provider references, which
-- FindByProviderRef reads, and the index of authorizations with provider
-- actions in flight, which Unsettled reads. {{schema}} is replaced by the
-- quoted schema name. Every statement finds nothing to do on a schema that
-- already has them, so applying it again changes nothing.

-- One row per provider reference of a merchant: the authorization whose
-- log records it (authcapture.Entry.ProviderRef). A write inserts the
-- references of its entries in the same statement as the rest; one that
-- another authorization of the merchant already holds violates the
-- primary key, and the whole write fails (authcapture.ErrAlreadyExists).
CREATE TABLE IF NOT EXISTS {{schema}}.provider_refs (
	merchant_id      TEXT NOT NULL,
	provider_ref     TEXT NOT NULL,
	authorization_id TEXT NOT NULL,
	CONSTRAINT provider_refs_pkey PRIMARY KEY (merchant_id, provider_ref)
);

-- pending_since is Authorization.PendingSince truncated to the microsecond
-- and pending_since_ns the nanoseconds truncated away, as for next_due.
ALTER TABLE {{schema}}.authorizations
	ADD COLUMN IF NOT EXISTS pending_since    TIMESTAMPTZ,
	ADD COLUMN IF NOT EXISTS pending_since_ns INTEGER NOT NULL DEFAULT 0;

-- Only authorizations with actions in flight are in it, in the order
-- Unsettled reads them.
CREATE INDEX IF NOT EXISTS authorizations_pending_since ON {{schema}}.authorizations
	(pending_since, pending_since_ns, merchant_id, id) WHERE pending_since IS NOT NULL;

-- Earlier releases recorded no provider references, so the table starts
-- empty. Authorizations with actions in flight recorded no begin times:
-- they count from their approval.
UPDATE {{schema}}.authorizations
SET pending_since = (state->>'AuthorizedAt')::timestamptz
WHERE pending_since IS NULL
	AND (state->'PendingCaptures' IS NOT NULL OR state->'PendingVoids' IS NOT NULL)
	AND state->>'AuthorizedAt' IS NOT NULL;
