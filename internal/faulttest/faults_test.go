package faulttest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// fault is a row of the table: what goes wrong, where it strikes, and what
// must hold once it has passed.
type fault struct {
	name string

	// The fault's setting, for the whole test.
	resets          bool              // every connection closes with a TCP RST (the dormant reset toxic)
	latency, jitter int               // milliseconds added to each direction of the proxy
	params          map[string]string // run-time parameters of the faulted Service's connections
	deadline        time.Duration     // the faulted call's context deadline

	strike strike // sends the command and makes the fault strike at its point

	// What must hold.
	fails       *failure // how the faulted call fails; nil: the row has no one faulted call
	endsSession bool     // the fault ends the faulted connection's backend
	applied     outcome  // whether the faulted command is committed once the strike is over
	create      bool     // the faulted command is a Create whose ID the Service generates, not a capture
}

// outcome is what a fault leaves of a command whose caller did not learn
// it. After the strike every such command is retried with its key until
// its outcome is known; the retry must replay exactly when the command
// was committed.
type outcome int

const (
	resolved  outcome = iota // the row's workload retried every unknown outcome itself
	lost                     // the fault struck before the commit: not applied, the retry applies it
	committed                // the fault struck after the commit: the retry replays it
	orphaned                 // the statement outlives its client and commits, unless the server checks for lost clients
	either                   // no telling: the retry finds out
)

var faults = []fault{
	// Connection resets (reset_peer): the server never gets the bytes that
	// strike, and the connection is reset.
	{name: "reset_before_write_reaches_server", resets: true, strike: atWrite(reset(upstream)),
		fails: unknownOutcome, endsSession: true, applied: lost},
	{name: "reset_before_locked_write", resets: true, strike: atLockedWrite(reset(upstream)),
		fails: unknownOutcome, endsSession: true, applied: lost},
	{name: "reset_before_commit_in_caller_transaction", resets: true, strike: inTransaction(nil, reset(upstream)),
		fails: unknownOutcome, endsSession: true, applied: lost},
	{name: "reset_while_write_blocked", resets: true, strike: whileBlocked(cut),
		fails: unknownOutcome, endsSession: true, applied: orphaned},
	{name: "retry_while_reset_write_still_blocked", resets: true, strike: retriedWhileBlocked(cut),
		fails: unknownOutcome, applied: committed},
	// Lost replies: the server committed, the client sees a reset. (On a
	// COMMIT pgx loses the read error and reports "conn closed", which it
	// marks safe to retry: a caller that trusted pgconn.SafeToRetry would
	// take the committed transaction for one that never reached the server.)
	{name: "reply_lost_after_commit", resets: true, strike: atWrite(reset(downstream)),
		fails: unknownOutcome, endsSession: true, applied: committed},
	{name: "reply_lost_after_commit_in_caller_transaction", resets: true, strike: inTransaction(nil, reset(downstream)),
		fails: unknownOutcome, endsSession: true, applied: committed},
	{name: "reply_lost_on_create_with_generated_id", resets: true, strike: atWrite(reset(downstream)), create: true,
		fails: unknownOutcome, endsSession: true, applied: committed},
	// Backends killed with pg_terminate_backend.
	{name: "backend_terminated_while_write_blocked", strike: whileBlocked(terminate),
		fails: unknownOutcome, endsSession: true, applied: lost},
	{name: "backends_terminated_under_load", strike: terminateUnderLoad},
	// Latency and timeouts. Latency alone never trips statement_timeout: the
	// server times a statement from the moment its messages arrive, and pgx
	// sends them in one chunk; so the statement waits on a row lock.
	{name: "latency_with_concurrent_services", latency: 15, jitter: 5, strike: concurrentServices},
	{name: "statement_timeout_under_latency", latency: 10, params: map[string]string{"statement_timeout": "300ms"},
		strike: whileBlocked(waitOut), fails: &failure{code: "57014", after: 300 * time.Millisecond}, applied: lost},
	{name: "caller_deadline_before_slow_reply", deadline: time.Second, strike: atWrite(delay(downstream, 5000)),
		fails: &failure{unknown: true, is: context.DeadlineExceeded, after: time.Second, within: 4 * time.Second}, endsSession: true, applied: committed},
	{name: "idle_in_transaction_timeout_under_latency", params: map[string]string{"idle_in_transaction_session_timeout": "100ms"},
		strike: inTransaction(delay(upstream, 250), nil), fails: &failure{unknown: true, code: "25P03"}, endsSession: true, applied: lost},
	// A child process killed with SIGKILL (its strike says where).
	{name: "process_killed_before_write", strike: killChild("before_write"), applied: lost},
	{name: "process_killed_after_write", strike: killChild("after_write"), applied: committed},
	{name: "process_killed_before_commit_in_transaction", strike: killChild("before_commit_in_transaction"), applied: lost},
	{name: "process_killed_after_commit_in_transaction", strike: killChild("after_commit_in_transaction"), applied: committed},
	{name: "process_killed_at_random_in_a_stream", strike: killChild("at_random_in_a_stream"), applied: either},
}

// TestFaults runs every row of faults, each in an env of its own: the
// strike, then the shared checks.
func TestFaults(t *testing.T) {
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			runFault(t, f)
		})
	}
}

// run is one row's test.
type run struct {
	*env
	t        *testing.T
	f        fault
	id       string // the authorization the captures draw on
	key      string // the faulted command's idempotency key
	interval string // the server's client_connection_check_interval

	db    *pgxpool.Pool // the faulted Service's pool: one proxied connection
	hooks *hooks
	svc   *authcapture.Service
	v0    int64         // the authorization's version before the faulted write
	auths int           // how many authorizations there are once the faulted command is retried
	took  time.Duration // how long the faulted call took

	struck  []string                    // toxics the strike added, removed once it is over
	want    map[string]map[string]int64 // per authorization, the captures applied exactly once
	pending []pending                   // commands whose outcome the strike left unknown
}

// pending is a command whose outcome the strike left unknown.
type pending struct {
	auth    string // the capture's authorization; "" for a create
	key     string
	cents   int64
	applied outcome
	auth0   string // the authorization the key's record names, after the strike
}

// runFault runs f: the setting, the strike, and then the checks: the
// faulted call failed as it must, each unknown outcome is as the row says,
// nothing is half-written, the retry with the same key replays exactly the
// commands that were committed, and in the end every capture is applied
// exactly once, the invariants hold and no authorization was created twice.
func runFault(t *testing.T, f fault) {
	e := newEnv(t)
	r := &run{env: e, t: t, f: f, key: "faulted", want: map[string]map[string]int64{}}
	if err := e.admin.QueryRow(e.ctx, "SHOW client_connection_check_interval").Scan(&r.interval); err != nil {
		t.Fatal(err)
	}
	if f.resets {
		e.addLinger(t)
	}
	if f.latency > 0 {
		for _, s := range []string{upstream, downstream} {
			e.addToxic(t, "latency_"+s, "latency", s, 1, toxiclient.Attributes{"latency": f.latency, "jitter": f.jitter})
		}
	}
	r.id = e.newAuth(t, "100.00")
	r.want[r.id] = map[string]int64{}

	err := f.strike(r)
	if f.fails != nil {
		if msg := f.fails.check(err, r.took); msg != "" {
			t.Fatalf("the faulted call, after %v: %s: %v", r.took, msg, err)
		}
		t.Logf("the faulted call failed after %v with: %v (pgconn.SafeToRetry: %v)", r.took, err, pgconn.SafeToRetry(err))
	}
	for _, name := range r.struck {
		e.removeToxic(t, name)
	}
	if f.endsSession {
		e.waitGone(t, e.appName)
	}

	// What the fault left, before any retry: nothing half-written.
	before := map[string]map[string]int64{}
	for id, w := range r.want {
		before[id] = maps.Clone(w)
	}
	for i := range r.pending {
		p := &r.pending[i]
		var ok bool
		switch p.applied {
		case committed:
			ok = waitFor(5*time.Second, func() bool { p.auth0 = r.recordedAuth(p.key); return p.auth0 != "" })
		case lost:
			p.auth0 = r.recordedAuth(p.key)
			ok = p.auth0 == "" && (p.auth == "" || r.v0 == 0 || r.version(t, p.auth) == r.v0)
		case orphaned:
			p.auth0 = r.recordedAuth(p.key)
			ok = p.auth0 != "" || r.interval != "0"
			t.Logf("the orphaned statement committed: %v (client_connection_check_interval %s)", p.auth0 != "", r.interval)
		default:
			p.auth0, ok = r.recordedAuth(p.key), true
		}
		if !ok {
			t.Errorf("%s: committed: %v, want %v", p.key, p.auth0 != "", p.applied == committed || p.applied == orphaned)
		}
		if p.auth0 != "" {
			if before[p.auth0] == nil {
				before[p.auth0] = map[string]int64{}
			}
			if p.auth != "" {
				before[p.auth0][p.key] = p.cents
			}
		}
	}
	for id, w := range before {
		e.verify(t, id, w)
	}

	// The retries, each with the command's own key.
	svc := r.svc
	if svc == nil {
		svc = e.service(t, e.pool(t, 2, nil), nil)
	}
	for _, p := range r.pending {
		do := func(ctx context.Context) (*authcapture.Result, error) {
			if p.auth == "" {
				return svc.Create(ctx, createReq(p.key))
			}
			return svc.Capture(ctx, captureReq(p.auth, p.key, p.cents))
		}
		res, _, err := retry(p.key, do)
		if err != nil {
			t.Fatal(err)
		}
		if res.Replayed != (p.auth0 != "") {
			t.Errorf("%s: committed before the retry: %v, the retry replayed: %v", p.key, p.auth0 != "", res.Replayed)
		}
		if p.auth == "" {
			if p.auth0 != "" && res.Authorization.ID != p.auth0 {
				t.Errorf("the retry of create %s answered %s, want a replay of %s", p.key, res.Authorization.ID, p.auth0)
			}
			r.want[res.Authorization.ID] = map[string]int64{}
			r.auths++
		} else {
			r.want[p.auth][p.key] = p.cents
		}
	}
	for id, w := range r.want {
		e.verify(t, id, w)
	}
	if n := r.authorizations(); r.svc != nil && n != r.auths {
		t.Errorf("%d authorizations after the fault and the retries, want %d", n, r.auths)
	}
}

// authorizations counts the merchant's authorizations.
func (r *run) authorizations() int {
	var n int
	if err := r.admin.QueryRow(r.ctx, "SELECT count(*) FROM "+r.schema+".authorizations WHERE merchant_id = $1", merchant).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// recordedAuth returns the authorization key's committed idempotency
// record names, or "" if there is none.
func (r *run) recordedAuth(key string) string {
	auth, err := r.record(key)
	if err != nil {
		r.t.Fatal(err)
	}
	return auth
}

// single readies the run for one faulted command: its Service on one
// proxied connection (with the row's run-time parameters) behind hooks,
// and a first command of the same shape, so that the connection exists and
// has the write prepared: the faulted write then goes out as one
// Bind/Execute/Sync and its reply comes back as one chunk.
func (r *run) single() {
	t := r.t
	r.db = r.pool(t, 1, r.f.params)
	for k, v := range r.f.params {
		var got string
		if err := r.db.QueryRow(r.ctx, "SHOW "+k).Scan(&got); err != nil || got != v {
			t.Fatalf("%s on the Service's connections is %q (%v), want %s", k, got, err, v)
		}
	}
	r.hooks = &hooks{keys: []string{r.key}}
	r.svc = r.service(t, r.db, r.hooks)
	if r.f.create {
		if _, err := r.svc.Create(r.ctx, createReq("warm")); err != nil {
			t.Fatal(err)
		}
		r.pending = append(r.pending, pending{key: r.key, applied: r.f.applied})
	} else {
		if _, _, err := resolve(r.svc, captureReq(r.id, "warm", 100)); err != nil {
			t.Fatal(err)
		}
		r.want[r.id]["warm"] = 100
		r.pending = append(r.pending, pending{auth: r.id, key: r.key, cents: 250, applied: r.f.applied})
	}
	r.v0 = r.version(t, r.id)
	r.auths = r.authorizations()
}

// call sends the faulted command on svc, under the row's deadline, and
// times it.
func (r *run) call(svc *authcapture.Service) error {
	ctx := r.ctx
	if r.f.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.f.deadline)
		defer cancel()
	}
	start := time.Now()
	defer func() { r.took = time.Since(start) }()
	var err error
	if r.f.create {
		_, err = svc.Create(ctx, createReq(r.key))
	} else {
		_, err = svc.Capture(ctx, captureReq(r.id, r.key, 250))
	}
	return err
}

func createReq(key string) authcapture.CreateRequest {
	return authcapture.CreateRequest{MerchantID: merchant, Currency: "USD", Amount: decimal.RequireFromString("42.00"), IdempotencyKey: key}
}

// strike runs a row's command and makes its fault happen, and returns the
// faulted call's error.
type strike func(r *run) error

// action makes a fault happen on the proxy.
type action func(r *run)

// reset arms the reset toxic of stream: the next bytes that way are
// dropped and the connection reset.
func reset(stream string) action {
	return func(r *run) {
		r.arm(r.t, stream, true)
		r.struck = append(r.struck, "reset_"+stream)
	}
}

// delay adds ms milliseconds of latency to stream.
func delay(stream string, ms int) action {
	return func(r *run) {
		r.addToxic(r.t, "delay_"+stream, "latency", stream, 1, toxiclient.Attributes{"latency": ms})
		r.struck = append(r.struck, "delay_"+stream)
	}
}

// atWrite strikes after the Service has read the authorization, just
// before the faulted command's write.
func atWrite(act action) strike {
	return func(r *run) error {
		r.single()
		fired := false
		r.hooks.before = func(context.Context, string) {
			if !fired {
				fired = true
				act(r)
			}
		}
		err := r.call(r.svc)
		if !fired {
			r.t.Fatal("the write hook never ran")
		}
		return err
	}
}

// atLockedWrite makes the faulted capture lose a version conflict on every
// write it makes without a lock (another writer gets in just before each),
// until the Service runs it under the row lock, and strikes just before
// that locked write.
func atLockedWrite(act action) strike {
	return func(r *run) error {
		r.single()
		interfered := 0
		r.hooks.before = func(ctx context.Context, _ string) {
			if r.hooks.locked.Load() > 0 {
				act(r)
				return
			}
			interfered++
			key := fmt.Sprintf("interfere-%d", interfered)
			if _, err := r.env.svc.Capture(ctx, captureReq(r.id, key, 100)); err != nil {
				r.t.Errorf("the interfering capture: %v", err)
			}
			r.want[r.id][key] = 100
			r.v0 = r.version(r.t, r.id)
		}
		err := r.call(r.svc)
		r.hooks.before = nil // the retries go through undisturbed
		if interfered == 0 || r.hooks.locked.Load() != 1 {
			r.t.Fatalf("the capture did not write under a lock after a conflict (%d conflicts, %d locked writes)", interfered, r.hooks.locked.Load())
		}
		return err
	}
}

// inTransaction runs the faulted capture inside the caller's transaction
// (pgstore's WithTx): before strikes before BEGIN, beforeCommit once the
// capture succeeded, before COMMIT.
func inTransaction(before, beforeCommit action) strike {
	return func(r *run) error {
		r.single()
		if before != nil {
			before(r)
		}
		tx, err := r.db.Begin(r.ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(r.ctx) }()
		err = r.call(r.service(r.t, tx, nil))
		if beforeCommit == nil {
			if err == nil {
				err = tx.Commit(r.ctx)
			}
			return err
		}
		if err != nil {
			r.t.Fatalf("capture in the transaction: %v", err)
		}
		beforeCommit(r)
		return tx.Commit(r.ctx)
	}
}

// blockedAction strikes while the faulted statement waits on the row lock,
// and returns the call's error, from errc.
type blockedAction func(r *run, errc <-chan error) error

// whileBlocked sends the faulted capture while the test holds the
// authorization's row lock, and strikes while its statement waits inside
// the server. Nothing may commit while the lock is held.
func whileBlocked(act blockedAction) strike { return blocked(act, false) }

// retriedWhileBlocked is whileBlocked with an impatient caller: the retry
// with the same key is sent at once, while the first attempt's statement
// still waits. Both wait on the lock; whichever gets it first applies the
// capture, the other must find it done (a failed version check, then a
// replay).
func retriedWhileBlocked(act blockedAction) strike { return blocked(act, true) }

func blocked(act blockedAction, retryAtOnce bool) strike {
	return func(r *run) error {
		t := r.t
		if retryAtOnce && r.interval != "0" {
			t.Skipf("client_connection_check_interval is %s: the server aborts the orphaned statement this row needs", r.interval)
		}
		r.single()
		release := r.lockRow(t, r.id)
		errc := make(chan error, 1)
		go func() { errc <- r.call(r.svc) }()
		err := act(r, errc)
		if r.recordedAuth(r.key) != "" {
			t.Fatal("the write committed while the test still held the row lock")
		}
		done := make(chan error, 1)
		if retryAtOnce {
			go func() {
				_, _, err := resolve(r.svc, captureReq(r.id, r.key, 250))
				done <- err
			}()
			if !waitFor(10*time.Second, func() bool {
				return len(slices.DeleteFunc(r.backends(t, r.appName), func(b backend) bool { return b.state != "active" || b.waitEvent != "Lock" })) == 2
			}) {
				t.Fatalf("the retry is not blocked beside the first attempt: %+v", r.backends(t, r.appName))
			}
		}
		release()
		if retryAtOnce {
			select {
			case rerr := <-done:
				if rerr != nil {
					t.Fatal(rerr)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the retry did not finish")
			}
		}
		return err
	}
}

// waitOut waits for the blocked call to fail by itself.
func waitOut(r *run, errc <-chan error) error {
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		r.t.Fatal("the blocked command did not return")
		return nil
	}
}

// cut resets the connection mid-statement and keeps the proxy down until
// pgx's CancelRequest for the statement has failed (cutMidStatement).
// PostgreSQL does not notice a lost client while a statement waits, unless
// client_connection_check_interval is set: the backend goes on waiting, and
// commits once the lock is released.
func cut(r *run, errc <-chan error) error {
	b := r.waitBlocked(r.t, r.appName)
	err := r.cutMidStatement(r.t, errc)
	if r.interval == "0" && !slices.ContainsFunc(r.backends(r.t, r.appName), func(x backend) bool { return x.pid == b.pid }) {
		r.t.Fatalf("backend %d stopped waiting on the lock when its client went away", b.pid)
	}
	return err
}

// terminate kills the blocked backend with pg_terminate_backend: its
// statement is aborted.
func terminate(r *run, errc <-chan error) error {
	b := r.waitBlocked(r.t, r.appName)
	if !r.terminate(r.t, b.pid) {
		r.t.Fatalf("pg_terminate_backend(%d) returned false", b.pid)
	}
	return waitOut(r, errc)
}

// failure is how the faulted call must fail.
type failure struct {
	unknown bool          // with an unknown outcome
	code    string        // with this SQLSTATE
	is      error         // with an error that is this one
	after   time.Duration // no sooner than this
	within  time.Duration // and no later than this
}

var unknownOutcome = &failure{unknown: true}

// check says what is wrong with err, after took, or "".
func (w *failure) check(err error, took time.Duration) string {
	switch {
	case err == nil:
		return "no error: the fault did not fire"
	case w.unknown && definite(err):
		return "a definite outcome, where the fault leaves it unknown"
	case w.code != "" && pgCode(err) != w.code:
		return "want SQLSTATE " + w.code
	case w.is != nil && !errors.Is(err, w.is):
		return fmt.Sprintf("want %v", w.is)
	case took < w.after || w.within > 0 && took > w.within:
		return fmt.Sprintf("want it after %v, within %v", w.after, w.within)
	}
	return ""
}
