//go:build unix

package faulttest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// childEnv carries a childConfig, as JSON, to the re-executed test binary.
const childEnv = "AUTHCAPTURE_FAULTTEST_CHILD"

// childConfig tells the child process what to do.
type childConfig struct {
	Mode      string // where the parent kills the child: the argument of killChild
	URL       string // the database URL; the child connects through the proxy
	ProxyHost string
	ProxyPort uint16
	App       string // application_name of the child's connections
	Schema    string
	Auth      string // the authorization to capture from
}

// The child reports on stdout, one line each: "child: WRITE key" before it
// sends the capture with that idempotency key, "child: ACK key" once the
// capture returned success, and "child: READY key" when it has reached the
// point where the parent kills it, after which it waits to be killed.
const childPrefix = "child: "

// childReq is the child's capture n, under key "child-n"; the parent
// retries it with the same parameters.
func childReq(auth string, n int) authcapture.CaptureRequest {
	return captureReq(auth, childKeyPrefix+strconv.Itoa(n), int64(n%7+1))
}

const childKeyPrefix = "child-"

// TestChildProcess is not a test: it is the child process of the
// killChild strikes, and skips unless started by one.
func TestChildProcess(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("the child process of the process_killed rows of TestFaults; runs only when started by one")
	}
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	cfg, err := proxiedConfig(c.URL, c.ProxyHost, c.ProxyPort, c.App, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, &pgstore.Options{Schema: c.Schema})
	if err != nil {
		t.Fatal(err)
	}
	say := func(tag string, n int) {
		fmt.Fprintf(os.Stdout, "%s%s %s\n", childPrefix, tag, childReq(c.Auth, n).IdempotencyKey)
	}
	ready := func() {
		say("READY", 1)
		for {
			time.Sleep(time.Hour) // until the parent kills this process
		}
	}
	newService := func(s authcapture.Store) *authcapture.Service {
		svc, err := authcapture.New(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	switch c.Mode {
	case "before_write":
		svc := newService(&hooks{Store: store, before: func(context.Context, string) { ready() }})
		_, err := svc.Capture(ctx, childReq(c.Auth, 1))
		t.Fatalf("the capture returned: %v", err)
	case "after_write":
		svc := newService(&hooks{Store: store, after: func(_ context.Context, _ string, err error) {
			if err == nil {
				ready()
			}
		}})
		_, err := svc.Capture(ctx, childReq(c.Auth, 1))
		t.Fatalf("the capture returned: %v", err)
	case "before_commit_in_transaction", "after_commit_in_transaction":
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newService(store.WithTx(tx)).Capture(ctx, childReq(c.Auth, 1)); err != nil {
			t.Fatal(err)
		}
		if c.Mode == "after_commit_in_transaction" {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		ready()
	case "at_random_in_a_stream":
		svc := newService(store)
		for n := 1; ; n++ {
			say("WRITE", n)
			if _, _, err := resolve(svc, childReq(c.Auth, n)); err != nil {
				t.Fatal(err)
			}
			say("ACK", n)
		}
	default:
		t.Fatalf("unknown mode %q", c.Mode)
	}
}

// killChild re-executes the test binary as a child process that captures
// through the proxy and reports each key it is about to write and each key
// acknowledged, and kills it with SIGKILL at the point mode names (the
// child waits there) or, for at_random_in_a_stream, at a random one. Every
// capture the child began is left to the run's retries, from a Service in
// this process: the one the child was killed at with the row's outcome,
// the acknowledged ones committed.
//
// The modes: before_write and after_write (the store's hook, before the
// statement is sent or after it returned success),
// before_commit_in_transaction and after_commit_in_transaction (the
// capture done in the caller's transaction, COMMIT not sent, or returned
// but not reported), and at_random_in_a_stream (a stream of captures).
func killChild(mode string) strike {
	return func(r *run) error {
		t := r.t
		app := r.appName + "_child"
		raw, err := json.Marshal(childConfig{Mode: mode, URL: r.url, ProxyHost: r.proxyHost, ProxyPort: r.proxyPort,
			App: app, Schema: r.schema, Auth: r.id})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()

		written, acked, ready := map[int]bool{}, map[int]bool{}, 0
		var output strings.Builder // the child's other output, for failures
		record := func(line string) {
			tag, key, ok := strings.Cut(strings.TrimPrefix(line, childPrefix), " ")
			n, err := strconv.Atoi(strings.TrimPrefix(key, childKeyPrefix))
			if !ok || err != nil || !strings.HasPrefix(line, childPrefix) || !strings.HasPrefix(key, childKeyPrefix) {
				output.WriteString(line + "\n")
				return
			}
			switch tag {
			case "WRITE":
				written[n] = true
			case "ACK":
				acked[n] = true
			case "READY":
				written[n] = true
				ready = n
			}
		}
		// When to kill: at READY, or in the stream after a random number
		// of acknowledgements and a random pause.
		ackTarget := 3 + rand.IntN(6)
		timeout := time.After(60 * time.Second)
	wait:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					_ = cmd.Wait()
					t.Fatalf("the child ended before it was killed; output:\n%s%s", output.String(), stderr.String())
				}
				record(line)
				if ready > 0 || len(acked) >= ackTarget {
					break wait
				}
			case <-timeout:
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the child never reached the kill point; output:\n%s%s", output.String(), stderr.String())
			}
		}
		if ready == 0 {
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for line := range lines { // what the child wrote before it died
			record(line)
		}
		_ = cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the child was not killed by SIGKILL: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
		}
		// The kill closed the child's sockets; the server ends their
		// backends (rolling back an open transaction).
		r.waitGone(t, app)

		for n := range written {
			req := childReq(r.id, n)
			p := pending{auth: r.id, key: req.IdempotencyKey, cents: req.Amount.Shift(2).IntPart(), applied: either}
			switch {
			case acked[n]:
				p.applied = committed
			case n == ready:
				p.applied = r.f.applied
			}
			r.pending = append(r.pending, p)
		}
		t.Logf("killed %s: %d captures begun, %d acknowledged, %d with an unknown outcome", mode, len(written), len(acked), len(written)-len(acked))
		return nil
	}
}
