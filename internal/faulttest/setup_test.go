package faulttest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/authcapture/authcapture/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"
)

const (
	// databaseURLEnv names the variable with the URL of the PostgreSQL
	// database the tests use.
	databaseURLEnv = "AUTHCAPTURE_TEST_DATABASE_URL"
	// requireDatabaseEnv, when set, turns a skip for a missing or
	// unreachable database into a failure.
	requireDatabaseEnv = "AUTHCAPTURE_TEST_REQUIRE_DATABASE"

	merchant = "merchant-1"
)

// databaseURL returns the test database's URL, or skips tb (fails it when
// the database is required).
func databaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(databaseURLEnv)
	if url == "" {
		if os.Getenv(requireDatabaseEnv) != "" {
			tb.Fatalf("%s is set but %s is empty", requireDatabaseEnv, databaseURLEnv)
		}
		tb.Skipf("set %s to a PostgreSQL URL (such as postgres://root@127.0.0.1:5432/test) to run the fault-injection tests", databaseURLEnv)
	}
	return url
}

// env is what a fault test works with: a fresh schema, reached directly
// for setup and checks, and through a toxiproxy proxy of its own for the
// code under test.
type env struct {
	ctx     context.Context // ends a minute and a half after the test starts: nothing may hang
	url     string
	schema  string
	appName string // application_name of every proxied connection

	admin *pgxpool.Pool        // direct: setup, checks, locks, pg_terminate_backend
	store *pgstore.Store       // direct
	svc   *authcapture.Service // direct, for setup

	proxy     *toxiclient.Proxy
	proxyHost string
	proxyPort uint16
	// failedDials counts the dials of the env's pools that failed. pgx
	// dials once more after a connection breaks mid-statement, to send
	// the server a CancelRequest for it; with the proxy disabled that dial
	// fails, which is how a test knows the cancel did not get through.
	failedDials atomic.Int64
}

// newEnv creates the schema, the proxy and its in-process toxiproxy
// server. Everything is removed when t ends.
func newEnv(t *testing.T) *env {
	t.Helper()
	url := databaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parsing %s: %v", databaseURLEnv, err)
	}
	cfg.MaxConns = 4
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if os.Getenv(requireDatabaseEnv) != "" {
			t.Fatalf("%s is set but the database at %s is unreachable: %v", requireDatabaseEnv, databaseURLEnv, err)
		}
		t.Skipf("the database at %s is unreachable (%v); set %s to a reachable PostgreSQL to run these tests", databaseURLEnv, err, databaseURLEnv)
	}
	e := &env{url: url, schema: "faulttest_" + randomHex(6), admin: admin}
	var cancelTest context.CancelFunc
	e.ctx, cancelTest = context.WithTimeout(context.Background(), 90*time.Second)
	e.appName = e.schema
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+e.schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", e.schema, err)
		}
		admin.Close()
		cancelTest()
	})
	if e.store, err = pgstore.New(admin, &pgstore.Options{Schema: e.schema}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if e.svc, err = authcapture.New(e.store, nil); err != nil {
		t.Fatal(err)
	}

	host, port := cfg.ConnConfig.Host, cfg.ConnConfig.Port
	if strings.HasPrefix(host, "/") {
		t.Fatalf("%s names a Unix socket (%s); the fault tests proxy TCP and need a host and port", databaseURLEnv, host)
	}
	upstream := net.JoinHostPort(host, strconv.Itoa(int(port)))

	// The toxiproxy server runs in this process; its HTTP API listens on
	// a random port of 127.0.0.1 and the proxy on another.
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(server.Routes())
	t.Cleanup(func() {
		// Close waits for the API's requests to end; a fault test must
		// not hang on one stuck inside toxiproxy.
		done := make(chan struct{})
		go func() { api.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the toxiproxy API did not shut down within 10s")
		}
	})
	client := toxiclient.NewClient(api.URL)
	e.proxy, err = client.CreateProxy("postgres", "127.0.0.1:0", upstream)
	if err != nil {
		t.Fatalf("creating the proxy: %v", err)
	}
	t.Cleanup(func() { _ = e.proxy.Delete() }) // closes every proxied connection
	h, p, err := net.SplitHostPort(e.proxy.Listen)
	if err != nil {
		t.Fatalf("proxy address %q: %v", e.proxy.Listen, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || h != "127.0.0.1" {
		t.Fatalf("proxy address %q: want 127.0.0.1 and a port", e.proxy.Listen)
	}
	e.proxyHost, e.proxyPort = h, uint16(n)
	return e
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// proxiedConfig returns a pool configuration for url that connects through
// the proxy at host:port as appName, with params as run-time parameters.
// Every fallback (sslmode=prefer tries TLS, then plain) goes through the
// proxy too, so no connection can bypass the faults.
func proxiedConfig(url, host string, port uint16, appName string, maxConns int32, params map[string]string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	cc.Host, cc.Port = host, port
	for _, fb := range cc.Fallbacks {
		fb.Host, fb.Port = host, port
	}
	cc.ConnectTimeout = 5 * time.Second
	cc.RuntimeParams["application_name"] = appName
	for k, v := range params {
		cc.RuntimeParams[k] = v
	}
	cfg.MaxConns = maxConns
	cfg.MinConns = 0
	// No liveness ping on acquire: a ping would be the first bytes through
	// an armed toxic instead of the statement the test aims at. A broken
	// connection then fails its next statement, which the tests retry.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	return cfg, nil
}

// pool returns a pool of at most maxConns connections through the proxy,
// with the env's application_name, closed when t ends.
func (e *env) pool(t *testing.T, maxConns int32, params map[string]string) *pgxpool.Pool {
	t.Helper()
	cfg, err := proxiedConfig(e.url, e.proxyHost, e.proxyPort, e.appName, maxConns, params)
	if err != nil {
		t.Fatal(err)
	}
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			e.failedDials.Add(1)
		}
		return c, err
	}
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Close blocks until every connection is back in the pool; cutting
		// the proxied connections first frees any still held by a command
		// a failed test left waiting.
		_ = e.proxy.Delete()
		pool.Close()
	})
	return pool
}

// service returns a Service over a store of the env's schema on db, with
// hooks around its writes.
func (e *env) service(t testing.TB, db pgstore.DBTX, h *hooks) *authcapture.Service {
	t.Helper()
	ps, err := pgstore.New(db, &pgstore.Options{Schema: e.schema})
	if err != nil {
		t.Fatal(err)
	}
	var s authcapture.Store = ps
	if h != nil {
		h.Store, s = ps, h
	}
	svc, err := authcapture.New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// hooks is a Store that calls before and after around every write that
// records one of the idempotency keys in keys (every write if keys is
// empty), plain or under a lock. A hook runs on the goroutine of the
// command. It is a Locker, as the pgstore.Store it wraps is.
type hooks struct {
	*pgstore.Store
	keys   []string
	before func(ctx context.Context, key string)
	after  func(ctx context.Context, key string, err error)
	locked atomic.Int64 // writes made under a lock
}

func (h *hooks) Write(ctx context.Context, w *authcapture.Write) error {
	return h.around(ctx, w, h.Store.Write)
}

// Lock forwards to the store's Lock, with the hooks around the locked
// write.
func (h *hooks) Lock(ctx context.Context, merchantID, id string) (*authcapture.Authorization, authcapture.Lock, error) {
	a, lock, err := h.Store.Lock(ctx, merchantID, id)
	if err != nil {
		return nil, nil, err
	}
	return a, &hookedLock{Lock: lock, h: h}, nil
}

type hookedLock struct {
	authcapture.Lock
	h *hooks
}

func (l *hookedLock) Write(ctx context.Context, w *authcapture.Write) error {
	l.h.locked.Add(1)
	return l.h.around(ctx, w, l.Lock.Write)
}

// around runs write(ctx, w) between the hooks, if w's key is one of h's.
func (h *hooks) around(ctx context.Context, w *authcapture.Write, write func(context.Context, *authcapture.Write) error) error {
	key := ""
	if w.Idempotency != nil {
		key = w.Idempotency.Key
	}
	match := len(h.keys) == 0
	for _, k := range h.keys {
		match = match || k == key
	}
	if match && h.before != nil {
		h.before(ctx, key)
	}
	err := write(ctx, w)
	if match && h.after != nil {
		h.after(ctx, key, err)
	}
	return err
}

// Toxics. A reset_peer toxic makes toxiproxy close both sockets of a
// connection with SO_LINGER 0, that is with a TCP RST, but it sets the
// linger option only on connections made while a reset_peer toxic is in
// the chain. The tests that reset connections therefore first add a
// dormant one (toxicity 0: never applied) before any connection is made,
// and at the moment the fault must happen add a live one in the direction
// they aim at: the next chunk of bytes in that direction is dropped and the
// connection reset. (Toxics are added and removed, never updated: in
// toxiproxy v2.12.0 updating a toxic races with the links already running
// it.)

const (
	upstream   = "upstream"   // client to server
	downstream = "downstream" // server to client
)

func (e *env) addToxic(t testing.TB, name, typ, stream string, toxicity float32, attrs toxiclient.Attributes) {
	t.Helper()
	if _, err := e.proxy.AddToxic(name, typ, stream, toxicity, attrs); err != nil {
		t.Fatalf("adding toxic %s: %v", name, err)
	}
}

func (e *env) removeToxic(t testing.TB, name string) {
	t.Helper()
	if err := e.proxy.RemoveToxic(name); err != nil {
		t.Fatalf("removing toxic %s: %v", name, err)
	}
}

// addLinger adds the dormant reset toxic that makes every later
// connection's sockets close with a RST.
func (e *env) addLinger(t testing.TB) {
	t.Helper()
	e.addToxic(t, "linger", "reset_peer", upstream, 0, toxiclient.Attributes{"timeout": 0})
}

// arm adds (on) or removes (off) the live reset toxic of stream.
func (e *env) arm(t testing.TB, stream string, on bool) {
	t.Helper()
	if on {
		e.addToxic(t, "reset_"+stream, "reset_peer", stream, 1, toxiclient.Attributes{"timeout": 0})
	} else {
		e.removeToxic(t, "reset_"+stream)
	}
}

// newAuth creates and approves an authorization of amount USD, directly,
// and returns its ID.
func (e *env) newAuth(t testing.TB, amount string) string {
	t.Helper()
	ctx := e.ctx
	id := "auth_" + randomHex(8)
	r, err := e.svc.Create(ctx, authcapture.CreateRequest{MerchantID: merchant, ID: id, Currency: "USD",
		Amount: decimal.RequireFromString(amount), IdempotencyKey: id + "-create"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := e.svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: r.Authorization.ID,
		Amount: decimal.RequireFromString(amount), IdempotencyKey: id + "-authorize"}); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return id
}

// captureReq is a non-final capture of cents from authorization id under
// key. The request is a pure function of its arguments, so a retry sends
// the same parameters.
func captureReq(id, key string, cents int64) authcapture.CaptureRequest {
	return authcapture.CaptureRequest{MerchantID: merchant, ID: id, Amount: decimal.New(cents, -2),
		Final: authcapture.Bool(false), IdempotencyKey: key}
}

// definite reports whether err is a known outcome of a command: nil
// (applied) or a rejection (the service's *authcapture.Error, or a store
// error with a sentinel). Anything else (a lost connection, a deadline, a
// database error the store does not classify) leaves the outcome unknown.
func definite(err error) bool {
	if err == nil {
		return true
	}
	var ae *authcapture.Error
	if errors.As(err, &ae) {
		return true
	}
	var se *pgstore.Error
	return errors.As(err, &se) && se.Sentinel != nil
}

// retry sends do until its outcome is known, with the same idempotency
// key every time: unknown outcomes and version conflicts (a rejection that
// applied nothing) are retried. It returns the result, the number of
// unknown outcomes seen, and an error if the command was rejected
// otherwise or the outcome stayed unknown for 30 seconds.
func retry(key string, do func(context.Context) (*authcapture.Result, error)) (*authcapture.Result, int, error) {
	deadline := time.Now().Add(30 * time.Second)
	unknown := 0
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := do(ctx)
		cancel()
		switch {
		case err == nil:
			return r, unknown, nil
		case errors.Is(err, authcapture.ErrVersionConflict):
		case definite(err):
			return nil, unknown, fmt.Errorf("%s rejected: %w", key, err)
		default:
			unknown++
		}
		if time.Now().After(deadline) {
			return nil, unknown, fmt.Errorf("%s: outcome still unknown after %d attempts: %w", key, attempt, err)
		}
		time.Sleep(time.Duration(min(attempt, 10)) * 10 * time.Millisecond)
	}
}

// resolve is retry for a capture.
func resolve(svc *authcapture.Service, req authcapture.CaptureRequest) (*authcapture.Result, int, error) {
	return retry(req.IdempotencyKey, func(ctx context.Context) (*authcapture.Result, error) { return svc.Capture(ctx, req) })
}

// record returns the authorization that key's committed idempotency
// record names, or "" if there is none.
func (e *env) record(key string) (string, error) {
	var auth string
	err := e.admin.QueryRow(e.ctx, "SELECT authorization_id FROM "+e.schema+".idempotency_keys WHERE merchant_id = $1 AND key = $2",
		merchant, key).Scan(&auth)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return auth, err
}

// version returns the stored version of authorization id.
func (e *env) version(t testing.TB, id string) int64 {
	t.Helper()
	a, err := e.store.Get(e.ctx, merchant, id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Version
}

// backend is a row of pg_stat_activity.
type backend struct {
	pid       int
	state     string
	waitEvent string // wait_event_type
}

// backends returns the server processes of connections with appName.
func (e *env) backends(t testing.TB, appName string) []backend {
	t.Helper()
	rows, err := e.admin.Query(e.ctx,
		`SELECT pid, coalesce(state, ''), coalesce(wait_event_type, '') FROM pg_stat_activity
		  WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend, error) {
		var b backend
		err := r.Scan(&b.pid, &b.state, &b.waitEvent)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// waitFor polls cond until it holds or timeout passes, and reports
// whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGone waits until no backend of appName is left, failing t after 10
// seconds.
func (e *env) waitGone(t testing.TB, appName string) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return len(e.backends(t, appName)) == 0 }) {
		t.Fatalf("the backends of %s are still there: %+v", appName, e.backends(t, appName))
	}
}

// lockRow takes the row lock of authorization id in a transaction of the
// admin pool, so that a write to it blocks inside the server, and returns
// the function that releases it.
func (e *env) lockRow(t testing.TB, id string) (release func()) {
	t.Helper()
	ctx := e.ctx
	tx, err := e.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+e.schema+".authorizations WHERE merchant_id = $1 AND id = $2 FOR UPDATE", merchant, id); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(ctx) }) }
	t.Cleanup(release)
	return release
}

// cutMidStatement resets every proxied connection while a statement runs
// on one: it disables the proxy, which closes them (with a RST, given the
// dormant reset toxic), waits for errc to deliver the command's error, and
// enables the proxy again only after pgx's attempt to cancel the orphaned
// statement has failed, so that the statement goes on in the server as
// if the client had vanished. It returns the command's error.
func (e *env) cutMidStatement(t testing.TB, errc <-chan error) error {
	t.Helper()
	dials := e.failedDials.Load()
	if err := e.proxy.Disable(); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not return after its connection was reset")
	}
	if !waitFor(10*time.Second, func() bool { return e.failedDials.Load() > dials }) {
		t.Fatal("pgx never tried to cancel the statement of the broken connection")
	}
	if err := e.proxy.Enable(); err != nil {
		t.Fatal(err)
	}
	return err
}

// waitBlocked waits until a backend of appName waits on a lock, and
// returns it.
func (e *env) waitBlocked(t testing.TB, appName string) backend {
	t.Helper()
	var got backend
	ok := waitFor(10*time.Second, func() bool {
		for _, b := range e.backends(t, appName) {
			if b.state == "active" && b.waitEvent == "Lock" {
				got = b
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no backend of %s is blocked on the row lock: %+v", appName, e.backends(t, appName))
	}
	return got
}

// verify checks authorization id after the faults: the invariants
// (storetest.CheckInvariants), that every key of want is applied exactly
// once with its amount (one succeeded capture entry carries it), that no
// other capture was applied, that the captured ledger is the exact sum,
// and that the outbox and the idempotency records match the log: nothing
// half-written.
func (e *env) verify(t testing.TB, id string, want map[string]int64) {
	t.Helper()
	ctx := e.ctx
	a, err := e.store.Get(ctx, merchant, id)
	if err != nil {
		t.Fatal(err)
	}
	log, err := e.store.Entries(ctx, merchant, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckInvariants(a, log); err != nil {
		t.Errorf("authorization %s: %v", id, err)
	}
	applied := map[string]int{}
	keys := map[string]bool{}
	var sum int64
	for _, en := range log {
		if en.IdempotencyKey != "" {
			keys[en.IdempotencyKey] = true
		}
		if en.Kind != authcapture.EntryCapture || en.CaptureState != authcapture.CaptureSucceeded {
			continue
		}
		applied[en.IdempotencyKey]++
		if cents, ok := want[en.IdempotencyKey]; ok && cents != en.Amount {
			t.Errorf("capture %s applied %d cents, sent %d", en.IdempotencyKey, en.Amount, cents)
		}
		sum += en.Amount
	}
	var total int64
	for key, cents := range want {
		total += cents
		if applied[key] != 1 {
			t.Errorf("capture %s is applied %d times, want exactly once", key, applied[key])
		}
	}
	for key, n := range applied {
		if _, ok := want[key]; !ok {
			t.Errorf("capture %s (%d entries) was never sent", key, n)
		}
	}
	if a.Captured != total || sum != total {
		t.Errorf("captured %d, log sum %d, want %d", a.Captured, sum, total)
	}

	var events, maxSeq int64
	if err := e.admin.QueryRow(ctx, "SELECT count(*), coalesce(max(seq), 0) FROM "+e.schema+".events WHERE merchant_id = $1 AND authorization_id = $2",
		merchant, id).Scan(&events, &maxSeq); err != nil {
		t.Fatal(err)
	}
	if events != a.Events || maxSeq != a.Events {
		t.Errorf("the outbox holds %d events up to seq %d, the authorization counts %d", events, maxSeq, a.Events)
	}
	rows, err := e.admin.Query(ctx, "SELECT key FROM "+e.schema+".idempotency_keys WHERE merchant_id = $1 AND authorization_id = $2", merchant, id)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range recorded {
		if !keys[k] {
			t.Errorf("idempotency record %s has no entry in the log", k)
		}
		delete(keys, k)
	}
	for k := range keys {
		t.Errorf("log entries with key %s have no idempotency record", k)
	}
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
