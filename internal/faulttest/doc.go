// Package faulttest injects network and process faults between the
// authcapture Service and PostgreSQL, and checks that nothing is lost and
// nothing is applied twice. It holds tests only; it is a module of its own
// so that the fault-injection proxy (toxiproxy, run inside the test
// process) stays out of the library's go.mod.
//
// The scenarios are the rows of one table (TestFaults): each names the
// fault, where it strikes and what must hold once it has passed. Every row
// works in a fresh pgstore schema, migrated over a direct connection and
// dropped when the test ends, and reaches the database through its own
// toxiproxy proxy listening on 127.0.0.1. The faults:
//
//   - a connection reset (TCP RST) before the write reaches the server,
//     while the write is blocked inside the server (also with the retry
//     sent while the orphaned statement still waits), and before the
//     COMMIT of a caller's transaction;
//   - the reply lost after the server committed, for a capture, for a
//     create whose ID the Service generates, and for the COMMIT of a
//     caller's transaction;
//   - added latency, with several Services capturing concurrently;
//   - backends killed with pg_terminate_backend, one blocked mid-write and
//     many under load;
//   - statement_timeout, the caller's deadline and
//     idle_in_transaction_session_timeout, under latency;
//   - a child process killed with SIGKILL before and after its write or
//     COMMIT, and at a random point of a stream of captures.
//
// After each fault one driver checks that the faulted call failed as the
// row says and that the command is committed or not as the row says, with
// nothing half-written; then it retries every command whose outcome was
// unknown with its idempotency key until the outcome is known, and checks
// that a retry replays exactly when the command had committed,
// storetest.CheckInvariants holds, every key is applied exactly once (one
// capture entry in the log), no acknowledged capture is lost, no
// authorization is created twice and the captured ledger is the exact sum
// of the captures.
//
// The tests read AUTHCAPTURE_TEST_DATABASE_URL and skip without it; with
// AUTHCAPTURE_TEST_REQUIRE_DATABASE set they fail instead of skipping.
package faulttest
