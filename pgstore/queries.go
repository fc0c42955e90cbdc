package pgstore

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// withSchema replaces {{schema}} in sql by the quoted schema name.
func withSchema(sql, quoted string) string {
	return strings.ReplaceAll(sql, "{{schema}}", quoted)
}

func newQueries(schema string) *queries {
	quoted := pgx.Identifier{schema}.Sanitize()
	q := &queries{schemaName: schema, schema: quoted}
	for _, p := range []struct {
		dst *string
		sql string
	}{
		{&q.get, `SELECT state FROM {{schema}}.authorizations WHERE merchant_id = $1 AND id = $2`},
		{&q.getForUpdate, `SELECT state FROM {{schema}}.authorizations WHERE merchant_id = $1 AND id = $2 FOR UPDATE`},

		// One row per entry after $3, or one row with a NULL entry if the
		// authorization has none: no row at all means it does not exist.
		{&q.entries, `SELECT e.entry
FROM {{schema}}.authorizations AS a
LEFT JOIN LATERAL (
	SELECT entry, seq FROM {{schema}}.entries
	WHERE merchant_id = a.merchant_id AND authorization_id = a.id AND seq > $3
	ORDER BY seq
	LIMIT $4
) AS e ON true
WHERE a.merchant_id = $1 AND a.id = $2
ORDER BY e.seq`},

		{&q.idempotency, `SELECT record FROM {{schema}}.idempotency_keys WHERE merchant_id = $1 AND key = $2`},

		{&q.due, `SELECT merchant_id, id, next_due, next_due_ns
FROM {{schema}}.authorizations
WHERE next_due IS NOT NULL AND (next_due, next_due_ns) <= ($1, $2)
ORDER BY next_due, next_due_ns
LIMIT $3`},

		{&q.unsettled, `SELECT merchant_id, id, pending_since, pending_since_ns
FROM {{schema}}.authorizations
WHERE pending_since IS NOT NULL AND (pending_since, pending_since_ns) <= ($1, $2)
ORDER BY pending_since, pending_since_ns
LIMIT $3`},

		// Claims up to $5 authorizations due at or before ($1, $2),
		// earliest first, found through the due index, by moving their due
		// time to ($3, $4), by primary key through arrays as for
		// pruneIdempotency; rows another transaction holds are skipped.
		// pick runs once, locking what it returns: locking checks a row
		// changed since the statement began again as it is now, and keeps
		// it so until the update. It returns the due times found.
		{&q.claimDue, `WITH pick AS MATERIALIZED (
	SELECT merchant_id, id, next_due, next_due_ns
	FROM {{schema}}.authorizations
	WHERE next_due IS NOT NULL AND (next_due, next_due_ns) <= ($1, $2)
	ORDER BY next_due, next_due_ns
	LIMIT $5
	FOR UPDATE SKIP LOCKED
), claimed AS (
	UPDATE {{schema}}.authorizations AS a SET next_due = $3, next_due_ns = $4
	FROM unnest(ARRAY(SELECT merchant_id FROM pick), ARRAY(SELECT id FROM pick)) AS p(merchant_id, id)
	WHERE a.merchant_id = p.merchant_id AND a.id = p.id
	RETURNING a.merchant_id, a.id
)
SELECT pick.merchant_id, pick.id, pick.next_due, pick.next_due_ns
FROM pick JOIN claimed USING (merchant_id, id)
ORDER BY pick.next_due, pick.next_due_ns`},

		{&q.providerRef, `SELECT authorization_id FROM {{schema}}.provider_refs WHERE merchant_id = $1 AND provider_ref = $2`},

		{&q.pending, `SELECT EXISTS (SELECT 1 FROM {{schema}}.events WHERE position IS NULL)`},

		{&q.lockCursor, `SELECT last_position FROM {{schema}}.event_cursor WHERE name = 'events' FOR UPDATE`},

		// Runs after lockCursor in the same transaction, so it sees every
		// position an earlier stamper assigned. $1 bounds the rows stamped
		// at once.
		{&q.stamp, `WITH c AS (
	SELECT last_position FROM {{schema}}.event_cursor WHERE name = 'events'
), p AS (
	SELECT id, row_number() OVER (ORDER BY id) AS n
	FROM (SELECT id FROM {{schema}}.events WHERE position IS NULL ORDER BY id LIMIT $1) AS todo
), s AS (
	UPDATE {{schema}}.events AS e SET position = c.last_position + p.n
	FROM p, c
	WHERE e.id = p.id AND e.position IS NULL
	RETURNING e.position
)
UPDATE {{schema}}.event_cursor
SET last_position = last_position + (SELECT count(*) FROM s)
WHERE name = 'events'
RETURNING (SELECT count(*) FROM s)`},

		{&q.readEvents, `SELECT position, event FROM {{schema}}.events
WHERE merchant_id = $1 AND position IS NOT NULL AND position > $2
ORDER BY position
LIMIT $3`},

		{&q.readAllEvents, `SELECT position, event FROM {{schema}}.events
WHERE position IS NOT NULL AND position > $1
ORDER BY position
LIMIT $2`},

		// Deletes up to $2 records created before $1, oldest first, found
		// through the index of migration 005 and deleted by primary key.
		// The keys go through arrays so that the planner, which cannot
		// tell how many rows LIMIT $2 leaves, probes the primary key for
		// each instead of reading every record before $1 (what a join on
		// old did under a generic plan). A record is never updated, so the
		// rows the delete finds are the rows old read.
		{&q.pruneIdempotency, `WITH old AS MATERIALIZED (
	SELECT merchant_id, key FROM {{schema}}.idempotency_keys
	WHERE created_at < $1
	ORDER BY created_at
	LIMIT $2
)
DELETE FROM {{schema}}.idempotency_keys AS k
USING unnest(ARRAY(SELECT merchant_id FROM old), ARRAY(SELECT key FROM old)) AS o(merchant_id, key)
WHERE k.merchant_id = o.merchant_id AND k.key = o.key`},

		// Reads the first $3 stamped events below position $2 through the
		// position index and deletes those before the first one not dated
		// before $1. An event without At counts as old.
		{&q.pruneEvents, `WITH head AS (
	SELECT position, COALESCE((event->>'At')::timestamptz < $1, true) AS old
	FROM {{schema}}.events
	WHERE position IS NOT NULL AND position < $2
	ORDER BY position
	LIMIT $3
), stop AS (
	SELECT COALESCE(min(position), $2) AS position FROM head WHERE NOT old
)
DELETE FROM {{schema}}.events
WHERE position IS NOT NULL
	AND position = ANY (ARRAY(SELECT position FROM head WHERE position < (SELECT position FROM stop)))`},

		// Deletes up to $2 authorizations closed before $1 with nothing in
		// flight, oldest first, found through the index of migration 007
		// and deleted by primary key, through arrays as for
		// pruneIdempotency. pick runs once, locking what it returns; rows
		// another transaction holds are skipped, not waited for. Locking
		// checks a row changed since the statement began again as it is
		// now, and keeps it so until the delete (which repeats no
		// condition on closed_at: the planner would read that index whole
		// for it).
		{&q.pruneAuthorizations, `WITH pick AS MATERIALIZED (
	SELECT merchant_id, id FROM {{schema}}.authorizations
	WHERE closed_at IS NOT NULL AND closed_at < $1
	ORDER BY closed_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)
DELETE FROM {{schema}}.authorizations AS a
USING unnest(ARRAY(SELECT merchant_id FROM pick), ARRAY(SELECT id FROM pick)) AS p(merchant_id, id)
WHERE a.merchant_id = p.merchant_id AND a.id = p.id
RETURNING a.merchant_id, a.id`},

		// Deletes the logs of the authorizations $1 (merchants) and $2
		// (IDs), with the provider references and the idempotency records
		// of theirs that their entries name.
		{&q.pruneAuthorizationRows, `WITH gone AS (
	SELECT * FROM unnest($1::text[], $2::text[]) AS g(merchant_id, id)
), e AS (
	DELETE FROM {{schema}}.entries AS e
	USING gone
	WHERE e.merchant_id = gone.merchant_id AND e.authorization_id = gone.id
	RETURNING e.merchant_id, e.authorization_id, e.entry->>'ProviderRef' AS ref, e.entry->>'IdempotencyKey' AS key
), r AS (
	DELETE FROM {{schema}}.provider_refs AS p
	USING e
	WHERE p.merchant_id = e.merchant_id AND p.provider_ref = e.ref AND p.authorization_id = e.authorization_id
)
DELETE FROM {{schema}}.idempotency_keys AS k
USING e
WHERE k.merchant_id = e.merchant_id AND k.key = e.key AND k.authorization_id = e.authorization_id`},

		// checksum is the SHA-256 of the migration's file, in hex; releases
		// before it was recorded created the table without it, and their
		// rows have none until Migrate records it.
		{&q.bootstrap, `CREATE SCHEMA IF NOT EXISTS {{schema}};
CREATE TABLE IF NOT EXISTS {{schema}}.schema_migrations (
	version    BIGINT NOT NULL,
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	checksum   TEXT,
	CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);
ALTER TABLE {{schema}}.schema_migrations ADD COLUMN IF NOT EXISTS checksum TEXT;
INSERT INTO {{schema}}.schema_migrations (version, name) VALUES (0, 'lock') ON CONFLICT (version) DO NOTHING`},

		{&q.lockMigrations, `SELECT version FROM {{schema}}.schema_migrations WHERE version = 0 FOR UPDATE`},
		{&q.migrationsDone, `SELECT version, checksum FROM {{schema}}.schema_migrations WHERE version > 0`},
		{&q.recordMigration, `INSERT INTO {{schema}}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`},
		{&q.recordChecksum, `UPDATE {{schema}}.schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL`},
	} {
		*p.dst = withSchema(p.sql, quoted)
	}
	return q
}

// writeShape is what the text of a write statement depends on.
type writeShape struct {
	insert      bool // version 1: INSERT instead of the version-checked UPDATE
	entries     int
	events      int
	idempotency bool
	refs        int // provider references to index
}

// Parameters of a write statement, in order: the authorization's
// (insertParams or updateParams of them), then entryParams per entry,
// eventParams per event, idempotencyParams, then one per provider
// reference.
const (
	insertParams      = 24
	updateParams      = 23
	entryParams       = 2
	eventParams       = 2
	idempotencyParams = 4
)

// write returns the statement for a write of shape sh. It returns one row:
// whether the authorization row was written and, for an update that was
// not, the version and log length stored (NULL if the authorization does
// not exist), which tell a conflict from a missing row. They are read
// only when nothing was written.
//
// Entries, events and the idempotency record are inserted FROM a, the
// authorization row written: if the version check fails nothing is
// inserted, and if an insert fails the statement, and so the whole write,
// fails.
func (q *queries) write(sh writeShape) string {
	if s, ok := q.writes.Load(sh); ok {
		return s.(string)
	}
	var b strings.Builder
	n := 0
	if sh.insert {
		// $1 merchant, $2 id, $3 version, $4 status, $5 currency,
		// $6-$11 ledgers, $12 log length, $13 next_due, $14 next_due_ns,
		// $15 created_at, $16 state, $17 pending_since, $18 pending_since_ns,
		// $19-$23 the ledgers of migration 006, $24 closed_at.
		b.WriteString(`WITH a AS (
	INSERT INTO {{schema}}.authorizations (merchant_id, id, version, status, currency,
		requested, authorized, captured, pending, voided, expired,
		entries, next_due, next_due_ns, created_at, state, pending_since, pending_since_ns,
		pending_void, pending_decrement, overcaptured, refunded, pending_refund, closed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24)
	ON CONFLICT (merchant_id, id) DO NOTHING
	RETURNING 1
)`)
		n = insertParams
	} else {
		// $1 merchant, $2 id, $3 version, $4 status, $5-$10 ledgers,
		// $11 entries appended, $12 next_due, $13 next_due_ns, $14 state,
		// $15 the log length the entries continue (NULL if none),
		// $16 pending_since, $17 pending_since_ns, $18-$22 the ledgers of
		// migration 006, $23 closed_at.
		b.WriteString(`WITH a AS (
	UPDATE {{schema}}.authorizations SET version = $3, status = $4,
		requested = $5, authorized = $6, captured = $7, pending = $8, voided = $9, expired = $10,
		entries = entries + $11, next_due = $12, next_due_ns = $13, state = $14,
		pending_since = $16, pending_since_ns = $17,
		pending_void = $18, pending_decrement = $19, overcaptured = $20, refunded = $21, pending_refund = $22,
		closed_at = $23
	WHERE merchant_id = $1 AND id = $2 AND version = $3 - 1
		AND ($15::bigint IS NULL OR entries = $15)
	RETURNING 1
)`)
		n = updateParams
	}
	param := func() string {
		n++
		return fmt.Sprintf("$%d", n)
	}
	// rows writes the rows of an insert of k rows of columns typed types:
	// one SELECT from a for a single row, else a VALUES list joined to a.
	rows := func(k int, cols string, types ...string) {
		if k == 1 {
			b.WriteString("\n\tSELECT $1, $2")
			for _, t := range types {
				b.WriteString(", " + param() + "::" + t)
			}
			b.WriteString(" FROM a")
			return
		}
		b.WriteString("\n\tSELECT $1, $2, v.* FROM a, (VALUES ")
		for i := 0; i < k; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j, t := range types {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(param() + "::" + t)
			}
			b.WriteString(")")
		}
		// In Seq order, so that the events' ids, which stamping follows,
		// are too.
		b.WriteString(") AS v(" + cols + ") ORDER BY v.seq")
	}
	if sh.entries > 0 {
		b.WriteString(`, e AS (
	INSERT INTO {{schema}}.entries (merchant_id, authorization_id, seq, entry)`)
		rows(sh.entries, "seq, entry", "bigint", "json")
		b.WriteString("\n)")
	}
	if sh.events > 0 {
		b.WriteString(`, ev AS (
	INSERT INTO {{schema}}.events (merchant_id, authorization_id, seq, event)`)
		rows(sh.events, "seq, event", "bigint", "json")
		b.WriteString("\n)")
	}
	if sh.idempotency {
		fmt.Fprintf(&b, `, i AS (
	INSERT INTO {{schema}}.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
	SELECT $1, %s::text, %s::text, %s::timestamptz, %s::json FROM a
)`, param(), param(), param(), param())
	}
	if sh.refs > 0 {
		// A reference this authorization already holds is skipped; one
		// another authorization holds violates provider_refs_pkey, and
		// the statement fails.
		b.WriteString(`, r AS (
	INSERT INTO {{schema}}.provider_refs (merchant_id, provider_ref, authorization_id)
	SELECT $1, v.ref, $2 FROM a, (VALUES `)
		for i := 0; i < sh.refs; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + param() + "::text)")
		}
		b.WriteString(`) AS v(ref)
	WHERE NOT EXISTS (SELECT FROM {{schema}}.provider_refs AS p
		WHERE p.merchant_id = $1 AND p.provider_ref = v.ref AND p.authorization_id = $2)
)`)
	}
	if sh.insert {
		b.WriteString(`
SELECT EXISTS (SELECT FROM a), NULL::bigint, NULL::bigint`)
	} else {
		// The subqueries see the row as it was before the statement; they
		// run only if the update matched nothing.
		b.WriteString(`
SELECT EXISTS (SELECT FROM a),
	CASE WHEN NOT EXISTS (SELECT FROM a) THEN (
		SELECT version FROM {{schema}}.authorizations WHERE merchant_id = $1 AND id = $2) END,
	CASE WHEN NOT EXISTS (SELECT FROM a) THEN (
		SELECT entries FROM {{schema}}.authorizations WHERE merchant_id = $1 AND id = $2) END`)
	}
	s := withSchema(b.String(), q.schema)
	q.writes.Store(sh, s)
	return s
}
