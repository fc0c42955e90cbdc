// Package failovertest kills the primary of a replicated PostgreSQL under
// load and checks that no acknowledged command is lost and none is applied
// twice. It holds tests only; it is a module of its own, like
// internal/faulttest, so that its setup stays out of the library.
//
// TestPrimaryFailover starts a pg_auto_failover cluster (cluster.sh: a
// monitor and two data nodes on free ports of 127.0.0.1, every file under
// a temporary directory, pg_autoctl run as the postgres user when the test
// runs as root and postgresql-15-auto-failover installed with apt-get when
// it is missing). Sixteen writers then create, authorize, capture from and
// void authorizations through one pgstore.Store on a pgx pool whose URL
// names both nodes with target_session_attrs=read-write, while the test
// kills the primary node with SIGKILL (its pg_autoctl, its postmaster and
// the postmaster's children). A writer whose call fails with an unknown
// outcome retries it with the same idempotency key until it gets an
// answer. Once the monitor has promoted the standby and the writers have
// gone on for a while on it, the test checks on the new primary that every
// acknowledged command is in the log exactly once, that nothing else is,
// that storetest.CheckInvariants holds for every authorization, and that
// sending every command again with its key replays it.
//
// The monitor's health checks are shortened (a node is unhealthy after
// three seconds, the old primary's demotion is awaited for five), so the
// standby takes writes about ten seconds after the kill instead of half a
// minute. The cluster keeps pg_auto_failover's default of synchronous replication
// to the standby (synchronous_standby_names 'ANY 1 (...)',
// synchronous_commit on); the test checks it before the kill, since an
// acknowledged commit survives the failover only then.
//
// The test runs when AUTHCAPTURE_TEST_DATABASE_URL (as CI sets it) or
// AUTHCAPTURE_TEST_FAILOVER is set, and skips with the reason otherwise,
// or when pg_autoctl is missing and cannot be installed (not root, no
// apt-get, the install failed).
package failovertest
