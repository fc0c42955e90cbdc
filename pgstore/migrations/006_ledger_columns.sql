-- 006_ledger_columns: the ledgers the CHECK constraints did not cover yet.
-- pending_void is what two-phase voids reserve; pending_decrement what a
-- requested decrease of the hold reserves until the provider answers;
-- overcaptured what a single final capture takes beyond the hold; refunded
-- and pending_refund the refund ledger, which never exceeds what was
-- captured. {{schema}} is replaced by the quoted schema name.
--
-- The ledger equation becomes
--   authorized + overcaptured = open + pending + pending_void
--                               + pending_decrement + captured + voided + expired
-- with open >= 0, so the constraint on what is taken out of the hold reads
-- the left side plus overcaptured. Rows written before this migration hold
-- 0 in the new columns until their next write; the new columns only add to
-- the sums checked against authorized and captured, so the constraints hold
-- for them as they are. Adding the columns rewrites no row (constant
-- defaults); the CHECK constraints are added NOT VALID and then validated,
-- which reads the table once.
ALTER TABLE {{schema}}.authorizations
	ADD COLUMN IF NOT EXISTS pending_void      NUMERIC NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS pending_decrement NUMERIC NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS overcaptured      NUMERIC NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS refunded          NUMERIC NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS pending_refund    NUMERIC NOT NULL DEFAULT 0;

ALTER TABLE {{schema}}.authorizations
	DROP CONSTRAINT IF EXISTS authorizations_ledgers_within_authorized,
	DROP CONSTRAINT IF EXISTS authorizations_new_ledgers_nonnegative,
	DROP CONSTRAINT IF EXISTS authorizations_refunds_within_captured,
	ADD CONSTRAINT authorizations_new_ledgers_nonnegative CHECK (
		LEAST(pending_void, pending_decrement, overcaptured, refunded, pending_refund) >= 0.0) NOT VALID,
	ADD CONSTRAINT authorizations_ledgers_within_authorized CHECK (
		captured + pending + pending_void + pending_decrement + voided + expired <= authorized + overcaptured) NOT VALID,
	ADD CONSTRAINT authorizations_refunds_within_captured CHECK (
		refunded + pending_refund <= captured) NOT VALID;

ALTER TABLE {{schema}}.authorizations VALIDATE CONSTRAINT authorizations_new_ledgers_nonnegative;
ALTER TABLE {{schema}}.authorizations VALIDATE CONSTRAINT authorizations_ledgers_within_authorized;
ALTER TABLE {{schema}}.authorizations VALIDATE CONSTRAINT authorizations_refunds_within_captured;
