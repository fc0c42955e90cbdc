-- 002_first_release_shape: brings a schema created by the first release's
-- 001_init up to the shape the current 001_init creates. 001_init was
-- changed after that release (a shipped migration is never changed again:
-- a change is a new migration, like this one). The first release kept the
-- values as jsonb and repeated some of their fields in NOT NULL columns of
-- their own, which writes no longer fill, checked the ledgers with a longer
-- expression, and indexed authorizations by merchant and status.
--
-- On a schema the current 001_init created every statement finds nothing
-- to do: the columns and the index are not there, the JSON columns already
-- have type json (changing a column to its own type rewrites nothing), and
-- the CHECK constraint is replaced only if it is the first release's.

DROP INDEX IF EXISTS {{schema}}.authorizations_merchant_status;

ALTER TABLE {{schema}}.entries
	DROP COLUMN IF EXISTS version,
	DROP COLUMN IF EXISTS kind,
	DROP COLUMN IF EXISTS amount,
	DROP COLUMN IF EXISTS at,
	ALTER COLUMN entry TYPE JSON;

ALTER TABLE {{schema}}.events
	DROP COLUMN IF EXISTS version,
	DROP COLUMN IF EXISTS type,
	DROP COLUMN IF EXISTS at,
	ALTER COLUMN event TYPE JSON;

ALTER TABLE {{schema}}.idempotency_keys
	DROP COLUMN IF EXISTS op,
	DROP COLUMN IF EXISTS version,
	ALTER COLUMN record TYPE JSON;

ALTER TABLE {{schema}}.authorizations
	ALTER COLUMN state TYPE JSON,
	SET (fillfactor = 80);

DO $$
BEGIN
	IF (SELECT pg_get_constraintdef(oid) NOT LIKE '%LEAST%' FROM pg_constraint
		WHERE conrelid = '{{schema}}.authorizations'::regclass
		AND conname = 'authorizations_ledgers_nonnegative') THEN
		ALTER TABLE {{schema}}.authorizations
			DROP CONSTRAINT authorizations_ledgers_nonnegative,
			ADD CONSTRAINT authorizations_ledgers_nonnegative CHECK (
				LEAST(requested, authorized, captured, pending, voided, expired) >= 0.0);
	END IF;
END
$$;
