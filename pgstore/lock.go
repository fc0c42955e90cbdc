package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
)

var _ authcapture.Locker = (*Store)(nil)

// Lock implements authcapture.Locker. It begins a transaction (a savepoint
// of the caller's, under WithTx) and reads the authorization's row with
// SELECT ... FOR UPDATE, which other writers then wait on; the returned
// Lock runs the write statement in that transaction and commits it, or
// rolls it back. That costs four round trips (BEGIN, the locking read, the
// write, COMMIT) against Write's one, so the Service uses it only for
// authorizations that writers are contending for, where it replaces a
// series of failed version checks with one wait.
//
// On a pool or a connection the transaction is READ COMMITTED, whatever
// the server's default, so the locking read waits for a row another writer
// holds. Under WithTx it is a savepoint of the caller's transaction, at the
// caller's isolation level: under REPEATABLE READ or SERIALIZABLE a
// contended lock then fails with authcapture.ErrVersionConflict, and the
// caller retries its transaction. Each lock, including one waiting for the
// row, holds one of the pool's connections until it ends. A lock whose
// write fails, or that is released, is rolled back on a context of its
// own (bounded by rollbackTimeout), so that it ends even when the caller's
// context has: a rollback left unsent would keep the row locked.
func (s *Store) Lock(ctx context.Context, merchantID, id string) (*authcapture.Authorization, authcapture.Lock, error) {
	var tx pgx.Tx
	var err error
	if b, ok := s.db.(txBeginner); ok && s.tx == nil {
		// READ COMMITTED whatever the server's default: a locking read
		// then waits for the row instead of failing with a serialization
		// error under REPEATABLE READ or SERIALIZABLE.
		tx, err = b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	} else {
		tx, err = s.db.Begin(ctx)
	}
	if err != nil {
		return nil, nil, translate(ctx, fmt.Sprintf("lock %q", id), err)
	}
	var state []byte
	if err := tx.QueryRow(ctx, s.q.getForUpdate, merchantID, id).Scan(&state); err != nil {
		_ = rollback(ctx, tx)
		return nil, nil, translate(ctx, fmt.Sprintf("lock %q", id), err)
	}
	a, err := decodeAuthorization(state)
	if err != nil {
		_ = rollback(ctx, tx)
		return nil, nil, err
	}
	return a, &lock{s: s, tx: tx, id: id}, nil
}

// txBeginner is what *pgxpool.Pool and *pgx.Conn have beyond DBTX.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// lock is a row locked by Lock, in the transaction tx.
type lock struct {
	s    *Store
	tx   pgx.Tx
	id   string
	done bool
}

// Write implements authcapture.Lock.
func (l *lock) Write(ctx context.Context, w *authcapture.Write) error {
	if l.done {
		return fmt.Errorf("pgstore: lock %q already ended: %w", l.id, authcapture.ErrInvalidArgument)
	}
	l.done = true
	if err := l.s.write(ctx, l.tx, w); err != nil {
		_ = rollback(ctx, l.tx)
		return err
	}
	// A commit that fails without a database error (a lost reply) leaves
	// the outcome unknown, and says so by carrying no sentinel.
	return translate(ctx, "commit "+l.id, l.tx.Commit(ctx))
}

// Release implements authcapture.Lock.
func (l *lock) Release(ctx context.Context) error {
	if l.done {
		return nil
	}
	l.done = true
	return translate(context.Background(), "release "+l.id, rollback(ctx, l.tx))
}

// rollbackTimeout bounds the rollback of a lock's transaction.
const rollbackTimeout = 5 * time.Second

// rollback rolls tx back on a context of its own, which ctx ending does not
// end: a rollback that cannot be sent would leave the row locked (the
// transaction idle, or its connection closed only when the server notices)
// while other writers wait for it.
func rollback(ctx context.Context, tx pgx.Tx) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	return tx.Rollback(ctx)
}
