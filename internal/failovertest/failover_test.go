//go:build unix

package failovertest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/authcapture/authcapture/storetest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

const (
	// databaseURLEnv is set by CI (and by ./test.sh when a server
	// answers on 127.0.0.1:5432); the failover test runs when it is.
	databaseURLEnv = "AUTHCAPTURE_TEST_DATABASE_URL"
	// failoverEnv runs the failover test without a database URL.
	failoverEnv = "AUTHCAPTURE_TEST_FAILOVER"

	merchant = "merchant-1"
	writers  = 16
	// authCents is the amount of each authorization.
	authCents = 1000
)

// cluster is a running pg_auto_failover cluster of cluster.sh.
type cluster struct {
	script, dir string
	monitorPort int
	nodePorts   map[string]int // by node name
	uri         string         // the formation's multi-host URI
	user        string         // the database user; "" for the OS user
}

// startCluster starts the cluster, or skips t with the reason it cannot
// run here. It is stopped, every process it started killed and its files
// removed, when t ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv(databaseURLEnv) == "" && os.Getenv(failoverEnv) == "" {
		t.Skipf("set %s=1 (or %s, as CI does) to run the failover test: it starts a pg_auto_failover cluster on local ports, installing postgresql-15-auto-failover with apt-get when it is missing and the test runs as root", failoverEnv, databaseURLEnv)
	}
	script, err := filepath.Abs("cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	// Read through the os package, so that a change to the script
	// invalidates go test's cached result.
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	dir, err := os.MkdirTemp("", "authcapture-failover-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{script: script, dir: dir, monitorPort: ports[0],
		nodePorts: map[string]int{"node1": ports[1], "node2": ports[2]}}
	if os.Geteuid() == 0 {
		c.user = "postgres" // pg_autoctl runs as postgres, whose role initdb made
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(t)
		}
		cmd := exec.Command(script, "stop", dir)
		cmd.WaitDelay = 10 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping the cluster: %v: %s", err, out)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "start", dir, strconv.Itoa(ports[0]), strconv.Itoa(ports[1]),
		strconv.Itoa(ports[2]), strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		t.Skipf("the failover test cannot run here: %s", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("starting the cluster: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	c.uri = lines[len(lines)-1]
	t.Logf("cluster started in %v: %s", time.Since(start).Round(time.Millisecond), c.uri)
	return c
}

// freePorts returns n ports of 127.0.0.1 that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// logTails logs the end of each pg_autoctl log of the cluster.
func (c *cluster) logTails(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("%s:\n%s", filepath.Base(name), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

// poolConfig returns the configuration of a pool on url, as the cluster's
// user.
func (c *cluster) poolConfig(t *testing.T, url string, maxConns int32) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	if c.user != "" {
		cfg.ConnConfig.User = c.user // every host of the URL
	}
	cfg.MaxConns = maxConns
	return cfg
}

// pool returns a pool on url, closed when t ends.
func (c *cluster) pool(t *testing.T, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.NewWithConfig(context.Background(), c.poolConfig(t, url, maxConns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// node returns a pool on one node's database (or the monitor's), without
// failover.
func (c *cluster) node(t *testing.T, port int, db string) *pgxpool.Pool {
	t.Helper()
	return c.pool(t, fmt.Sprintf("postgres://127.0.0.1:%d/%s?sslmode=disable", port, db), 2)
}

// states returns the reported and assigned state of each node, as the
// monitor has them.
func states(ctx context.Context, monitor *pgxpool.Pool) (map[string][2]string, error) {
	rows, err := monitor.Query(ctx, "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string][2]string{}
	for rows.Next() {
		var name, reported, goal string
		if err := rows.Scan(&name, &reported, &goal); err != nil {
			return nil, err
		}
		m[name] = [2]string{reported, goal}
	}
	return m, rows.Err()
}

// command is one command of a writer, with what became of it.
type command struct {
	auth, key string
	kind      authcapture.EntryKind
	cents     int64 // of a capture
	do        func(ctx context.Context, svc *authcapture.Service) (*authcapture.Result, error)

	sent, acked time.Time
	unknown     int               // outcomes unknown before the answer
	replayed    bool              // the answer was a replay: an earlier attempt had committed
	entry       authcapture.Entry // the answer's entry
}

// commands returns the commands of a writer's authorization id: create,
// authorize, three partial captures and a void of the rest.
func commands(id string, w, a int) []*command {
	amount := decimal.New(authCents, -2)
	cmds := []*command{
		{auth: id, key: id + "-create", kind: authcapture.EntryCreated,
			do: func(ctx context.Context, svc *authcapture.Service) (*authcapture.Result, error) {
				return svc.Create(ctx, authcapture.CreateRequest{MerchantID: merchant, ID: id, Currency: "USD",
					Amount: amount, IdempotencyKey: id + "-create"})
			}},
		{auth: id, key: id + "-authorize", kind: authcapture.EntryAuthorized,
			do: func(ctx context.Context, svc *authcapture.Service) (*authcapture.Result, error) {
				return svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: id,
					Amount: amount, IdempotencyKey: id + "-authorize"})
			}},
	}
	for i := range 3 {
		key := fmt.Sprintf("%s-capture-%d", id, i)
		cents := int64(1 + (w*7+a*3+i)%200)
		cmds = append(cmds, &command{auth: id, key: key, kind: authcapture.EntryCapture, cents: cents,
			do: func(ctx context.Context, svc *authcapture.Service) (*authcapture.Result, error) {
				return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: merchant, ID: id,
					Amount: decimal.New(cents, -2), Final: authcapture.Bool(false), IdempotencyKey: key})
			}})
	}
	cmds = append(cmds, &command{auth: id, key: id + "-void", kind: authcapture.EntryVoid,
		do: func(ctx context.Context, svc *authcapture.Service) (*authcapture.Result, error) {
			return svc.Void(ctx, authcapture.VoidRequest{MerchantID: merchant, ID: id, All: true,
				Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: id + "-void"})
		}})
	return cmds
}

// definite reports whether err is a known outcome: nil (applied) or a
// rejection (the service's *authcapture.Error, or a store error with a
// sentinel). Anything else (a lost connection, a deadline, a database
// error the store does not classify) leaves the outcome unknown.
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

// send runs c until its outcome is known, with the same idempotency key
// every time: unknown outcomes and version conflicts (which applied
// nothing) are retried, for at most a minute. Each attempt has five
// seconds: while the standby is promoted its commits wait for the old
// primary's demotion.
func send(svc *authcapture.Service, c *command) error {
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := c.do(ctx, svc)
		cancel()
		switch {
		case err == nil:
			c.acked, c.replayed, c.entry = time.Now(), r.Replayed, r.Entry
			return nil
		case errors.Is(err, authcapture.ErrVersionConflict):
		case definite(err):
			return fmt.Errorf("%s rejected: %w", c.key, err)
		default:
			c.unknown++
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: outcome still unknown after %d attempts: %w", c.key, attempt, err)
		}
		time.Sleep(time.Duration(min(attempt, 10)) * 20 * time.Millisecond)
	}
}

func TestPrimaryFailover(t *testing.T) {
	testStart := time.Now()
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	monitor := c.node(t, c.monitorPort, "pg_auto_failover")

	pool := c.pool(t, c.uri, writers)
	if got := pool.Config().ConnConfig.RuntimeParams; len(pool.Config().ConnConfig.Fallbacks) < 1 {
		t.Fatalf("the pool's URL %s names one host (params %v); want both nodes", c.uri, got)
	}
	if pool.Config().ConnConfig.ValidateConnect == nil {
		t.Fatalf("the pool's URL %s has no target_session_attrs=read-write", c.uri)
	}
	store, err := pgstore.New(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	svc, err := authcapture.New(store, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Replication: acknowledged commits survive the primary only if the
	// standby has them, that is with synchronous replication to it.
	var syncNames, syncCommit, sender, syncState string
	var numSync int
	if err := pool.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names'), current_setting('synchronous_commit'),
		 coalesce((SELECT application_name || ' ' || sync_state FROM pg_stat_replication LIMIT 1), '')`).
		Scan(&syncNames, &syncCommit, &sender); err != nil {
		t.Fatal(err)
	}
	if err := monitor.QueryRow(ctx, "SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'default'").Scan(&numSync); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(sender); len(f) == 2 {
		syncState = f[1]
	}
	t.Logf("replication before the kill: synchronous_standby_names=%q synchronous_commit=%s standby=%q number_sync_standbys=%d",
		syncNames, syncCommit, sender, numSync)
	if syncNames == "" || !slices.Contains([]string{"on", "remote_write", "remote_apply"}, syncCommit) ||
		!slices.Contains([]string{"sync", "quorum"}, syncState) {
		t.Fatalf("the primary does not replicate synchronously to its standby: an acknowledged commit could be lost in a failover")
	}

	// The writers.
	var (
		stop      atomic.Bool
		killAt    atomic.Int64 // unix nanoseconds
		recovered atomic.Int64 // first answer to a command sent after the kill
		acked     atomic.Int64
		mu        sync.Mutex
		done      []*command
		wg        sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for a := 0; !stop.Load(); a++ {
				for _, cmd := range commands(fmt.Sprintf("w%02d-a%04d", w, a), w, a) {
					if stop.Load() {
						return
					}
					cmd.sent = time.Now()
					if err := send(svc, cmd); err != nil {
						t.Error(err)
						stop.Store(true)
						return
					}
					acked.Add(1)
					if k := killAt.Load(); k != 0 && cmd.sent.UnixNano() > k {
						recovered.CompareAndSwap(0, cmd.acked.UnixNano())
					}
					mu.Lock()
					done = append(done, cmd)
					mu.Unlock()
				}
			}
		})
	}

	// A test that fails from here on stops its writers before the pool
	// closes.
	defer func() { stop.Store(true); wg.Wait() }()

	// Kill the primary once the writers are well under way.
	time.Sleep(2 * time.Second)
	for acked.Load() < 20*writers && !stop.Load() && time.Since(testStart) < 2*time.Minute {
		time.Sleep(100 * time.Millisecond)
	}
	st, err := states(ctx, monitor)
	if err != nil {
		t.Fatal(err)
	}
	oldNode, survivor := "node1", "node2"
	if st["node2"] == [2]string{"primary", "primary"} {
		oldNode, survivor = survivor, oldNode
	}
	if st[oldNode] != [2]string{"primary", "primary"} || st[survivor] != [2]string{"secondary", "secondary"} {
		t.Fatalf("before the kill the monitor reports %v; want a primary and a secondary", st)
	}
	out, err := exec.Command(c.script, "kill-node", c.dir, oldNode).Output()
	// The postmaster is dead once kill-node returns; until then it may
	// still have answered.
	killAt.Store(time.Now().UnixNano())
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("killing the primary: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("killing the primary: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("kill-node printed %q", out)
	}
	t.Logf("killed the primary %s (postmaster %d) with SIGKILL after %d acknowledged commands", oldNode, pid, acked.Load())

	// Let the writers run on the new primary for a while.
	deadline := time.Now().Add(90 * time.Second)
	for recovered.Load() == 0 && !stop.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if recovered.Load() != 0 {
		time.Sleep(2 * time.Second)
	}
	stop.Store(true)
	wg.Wait()
	if recovered.Load() == 0 {
		t.Fatalf("no command sent after the kill was answered within 90s")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the killed postmaster %d is still there (%v)", pid, err)
	}
	kill := time.Unix(0, killAt.Load())
	t.Logf("first answer to a command sent after the kill: %v after it", time.Unix(0, recovered.Load()).Sub(kill).Round(time.Millisecond))

	// The survivor is the primary now, as the monitor sees it.
	ok := false
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if st, err = states(ctx, monitor); err == nil && slices.Contains([]string{"wait_primary", "primary"}, st[survivor][0]) {
			ok = true
			break
		}
	}
	if !ok {
		t.Fatalf("the monitor does not report %s as primary: %v (%v)", survivor, st, err)
	}
	t.Logf("monitor after the failover: %v", st)
	direct := c.node(t, c.nodePorts[survivor], "authcapture")
	var inRecovery bool
	if err := direct.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names')").Scan(&inRecovery, &syncNames); err != nil {
		t.Fatal(err)
	}
	if inRecovery {
		t.Fatalf("%s is still in recovery", survivor)
	}
	t.Logf("the new primary %s has synchronous_standby_names=%q (no standby is left to wait for)", survivor, syncNames)

	verify(ctx, t, direct, done, kill, time.Unix(0, recovered.Load()))
	t.Logf("test took %v", time.Since(testStart).Round(time.Millisecond))
}

// verify checks, on the new primary, that every acknowledged command in
// done is in the log exactly once and nothing else is, that the
// invariants hold, and that sending each command again replays it.
func verify(ctx context.Context, t *testing.T, db *pgxpool.Pool, done []*command, kill, recovered time.Time) {
	store, err := pgstore.New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authcapture.New(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before, during, after, unknown, committedUnacked int
	byAuth := map[string][]*command{}
	for _, c := range done {
		switch {
		case c.acked.Before(kill):
			before++
		case c.sent.After(recovered):
			after++
		default:
			during++
		}
		if c.unknown > 0 {
			unknown++
			if c.replayed {
				committedUnacked++
			}
		}
		byAuth[c.auth] = append(byAuth[c.auth], c)
	}
	t.Logf("%d commands acknowledged on %d authorizations: %d before the kill, %d during the failover, %d after it; "+
		"%d had an unknown outcome first, of which %d had committed (their retry replayed) and %d had not",
		len(done), len(byAuth), before, during, after, unknown, committedUnacked, unknown-committedUnacked)
	if before == 0 || during == 0 || after == 0 || unknown == 0 {
		t.Errorf("the run did not cover the failover: %d before, %d during, %d after, %d unknown outcomes", before, during, after, unknown)
	}

	versions := map[string]int64{}
	for id, cmds := range byAuth {
		a, err := store.Get(ctx, merchant, id)
		if err != nil {
			t.Errorf("authorization %s, acknowledged by %s, is not on the new primary: %v", id, cmds[0].key, err)
			continue
		}
		log, err := store.Entries(ctx, merchant, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := storetest.CheckInvariants(a, log); err != nil {
			t.Errorf("authorization %s: %v", id, err)
		}
		versions[id] = a.Version
		found := map[string]int{}
		for _, e := range log {
			if e.IdempotencyKey != "" {
				found[e.IdempotencyKey]++
			}
		}
		var captured int64
		voided := false
		for _, c := range cmds {
			n := 0
			for _, e := range log {
				if e.IdempotencyKey == c.key && e.Kind == c.kind &&
					(c.kind != authcapture.EntryCapture || e.CaptureState == authcapture.CaptureSucceeded && e.Amount == c.cents) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("acknowledged %s is in the log %d times, want once", c.key, n)
			}
			delete(found, c.key)
			captured += c.cents
			voided = voided || c.kind == authcapture.EntryVoid
		}
		for key := range found {
			t.Errorf("authorization %s: the log holds %s, which was never acknowledged", id, key)
		}
		if a.Captured != captured {
			t.Errorf("authorization %s: captured %d, the acknowledged captures sum to %d", id, a.Captured, captured)
		}
		if voided && a.Voided != a.Authorized-captured {
			t.Errorf("authorization %s: voided %d, want the rest of %d", id, a.Voided, a.Authorized)
		}
	}
	var records int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM authcapture.idempotency_keys WHERE merchant_id = $1", merchant).Scan(&records); err != nil {
		t.Fatal(err)
	}
	if records != len(done) {
		t.Errorf("%d idempotency records for %d acknowledged commands", records, len(done))
	}

	// Every command again, with its key: each replays its first answer
	// and changes nothing.
	var wg sync.WaitGroup
	work := make(chan *command)
	for range writers {
		wg.Go(func() {
			for c := range work {
				r, err := c.do(ctx, svc)
				switch {
				case err != nil:
					t.Errorf("resending %s: %v", c.key, err)
				case !r.Replayed:
					t.Errorf("resending %s applied it again", c.key)
				case r.Entry.Seq != c.entry.Seq || r.Entry.Kind != c.entry.Kind:
					t.Errorf("resending %s replayed entry %d (%s), the first answer was %d (%s)", c.key, r.Entry.Seq, r.Entry.Kind, c.entry.Seq, c.entry.Kind)
				}
			}
		})
	}
	for _, c := range done {
		work <- c
	}
	close(work)
	wg.Wait()
	for id, v := range versions {
		a, err := store.Get(ctx, merchant, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Version != v {
			t.Errorf("authorization %s went from version %d to %d when its commands were sent again", id, v, a.Version)
		}
	}
}
