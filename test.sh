#!/usr/bin/env bash
# Runs every test of the project with the race detector: the library module,
# the nested fault-injection module and the examples that are modules of
# their own. The PostgreSQL tests use
# AUTHCAPTURE_TEST_DATABASE_URL; when it is unset and a server answers on
# 127.0.0.1:5432 they use postgres://root@127.0.0.1:5432/test, otherwise they
# skip with a message that says how to enable them. The relay example's
# test does the same with a NATS server (AUTHCAPTURE_TEST_NATS_URL, or
# nats://127.0.0.1:4222).
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${AUTHCAPTURE_TEST_DATABASE_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  export AUTHCAPTURE_TEST_DATABASE_URL="postgres://root@127.0.0.1:5432/test"
fi

go test -race "$@" ./...
for mod in internal/*/go.mod examples/*/go.mod; do
  [ -f "$mod" ] || continue
  (cd "$(dirname "$mod")" && go test -race "$@" ./...)
done
