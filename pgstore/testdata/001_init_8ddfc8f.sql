-- 001_init: authorizations, their append-only log, the event outbox with its
-- cursor, and idempotency records. {{schema}} is replaced by the quoted
-- schema name (Options.Schema).

-- One row per authorization. The state column holds the whole aggregate and
-- is what Get decodes, so a field added to authcapture.Authorization is kept
-- without a schema change; the other columns exist for constraints and
-- queries and are written from the same value in the same statement. The
-- CHECK constraints are the ledger invariants; every constraint costs each
-- write some time, so checks the Go code already guarantees are left out.
CREATE TABLE {{schema}}.authorizations (
	merchant_id TEXT NOT NULL,
	id          TEXT NOT NULL,
	version     BIGINT NOT NULL,
	status      TEXT NOT NULL,
	currency    TEXT NOT NULL,
	requested   NUMERIC NOT NULL,
	authorized  NUMERIC NOT NULL,
	captured    NUMERIC NOT NULL,
	pending     NUMERIC NOT NULL,
	voided      NUMERIC NOT NULL,
	expired     NUMERIC NOT NULL,
	entries     BIGINT NOT NULL,
	-- next_due is Authorization.NextDue truncated to the microsecond and
	-- next_due_ns the nanoseconds truncated away, so Due compares exactly.
	next_due    TIMESTAMPTZ,
	next_due_ns INTEGER NOT NULL DEFAULT 0,
	created_at  TIMESTAMPTZ NOT NULL,
	state       JSONB NOT NULL,
	CONSTRAINT authorizations_pkey PRIMARY KEY (merchant_id, id),
	CONSTRAINT authorizations_ledgers_nonnegative CHECK (
		requested >= 0 AND authorized >= 0 AND captured >= 0 AND
		pending >= 0 AND voided >= 0 AND expired >= 0),
	CONSTRAINT authorizations_ledgers_within_authorized CHECK (
		captured + pending + voided + expired <= authorized),
	CONSTRAINT authorizations_authorized_within_requested CHECK (authorized <= requested)
);

-- The due index: only authorizations with something due are in it, in the
-- order Due reads them.
CREATE INDEX authorizations_next_due ON {{schema}}.authorizations
	(next_due, next_due_ns, merchant_id, id) WHERE next_due IS NOT NULL;

CREATE INDEX authorizations_merchant_status ON {{schema}}.authorizations (merchant_id, status);

-- The append-only log. entry holds the whole authcapture.Entry.
CREATE TABLE {{schema}}.entries (
	merchant_id      TEXT NOT NULL,
	authorization_id TEXT NOT NULL,
	seq              BIGINT NOT NULL,
	version          BIGINT NOT NULL,
	kind             TEXT NOT NULL,
	amount           NUMERIC NOT NULL,
	at               TIMESTAMPTZ NOT NULL,
	entry            JSONB NOT NULL,
	CONSTRAINT entries_pkey PRIMARY KEY (merchant_id, authorization_id, seq)
);

-- The outbox. Events are inserted with a NULL position; Events stamps
-- positions on the committed, unpositioned rows while it holds the lock on
-- the event_cursor row (see the package documentation). id is the insertion
-- order that stamping follows.
CREATE TABLE {{schema}}.events (
	id               BIGSERIAL NOT NULL,
	position         BIGINT,
	merchant_id      TEXT NOT NULL,
	authorization_id TEXT NOT NULL,
	seq              BIGINT NOT NULL,
	version          BIGINT NOT NULL,
	type             TEXT NOT NULL,
	at               TIMESTAMPTZ NOT NULL,
	event            JSONB NOT NULL,
	CONSTRAINT events_pkey PRIMARY KEY (merchant_id, authorization_id, seq)
);

CREATE INDEX events_unpositioned ON {{schema}}.events (id) WHERE position IS NULL;

CREATE UNIQUE INDEX events_merchant_position ON {{schema}}.events (merchant_id, position)
	WHERE position IS NOT NULL;

-- The last position stamped. Its one row is the lock that orders stamping.
CREATE TABLE {{schema}}.event_cursor (
	name          TEXT NOT NULL,
	last_position BIGINT NOT NULL,
	CONSTRAINT event_cursor_pkey PRIMARY KEY (name),
	CONSTRAINT event_cursor_last_position_nonnegative CHECK (last_position >= 0)
);

INSERT INTO {{schema}}.event_cursor (name, last_position) VALUES ('events', 0);

-- Idempotency records, scoped by merchant. record holds the whole
-- authcapture.IdempotencyRecord.
CREATE TABLE {{schema}}.idempotency_keys (
	merchant_id      TEXT NOT NULL,
	key              TEXT NOT NULL,
	op               TEXT NOT NULL,
	authorization_id TEXT NOT NULL,
	version          BIGINT NOT NULL,
	created_at       TIMESTAMPTZ NOT NULL,
	record           JSONB NOT NULL,
	CONSTRAINT idempotency_keys_pkey PRIMARY KEY (merchant_id, key)
);
