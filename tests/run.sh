#!/usr/bin/env bash
# Runs every test of the repository, installing first whatever the tests need and lack:
#   - PostgreSQL: started if it is installed but stopped (the tests create a database each);
#   - Debian's Chromium, for the browser tests of GraphiQL and the dashboard;
#   - the pinned npm packages of tests/node (graphql-http audit, graphql-ws client) and
#     tests/browser (playwright-core), when node_modules is missing or older than its lock file.
# Node.js and npm are also what api/build.rs bundles GraphiQL and the dashboard with.
# Kotlin and JNA for the Android bindings test are installed by android/test.sh itself.
#
# CI=true is set, so a test whose tool or database is missing fails instead of skipping
# silently. Arguments go to `cargo test --workspace` (e.g. `tests/run.sh -- pipeline`); without
# any, the deploy/ topology is started and its fault checks run after the tests (Debian's
# haproxy is installed if missing).
#
# Environment: CDTG_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."

export CDTG_TEST_POSTGRES_URL="${CDTG_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CI=true

say() { printf '== %s\n' "$*" >&2; }
fail() { printf 'tests/run.sh: %s\n' "$*" >&2; exit 1; }

pg_host_port() {
    # host and port of the URL, for pg_isready
    local rest="${CDTG_TEST_POSTGRES_URL#*://}"
    rest="${rest#*@}"
    rest="${rest%%/*}"
    PG_HOST="${rest%%:*}"
    PG_PORT="${rest##*:}"
    [ "$PG_PORT" = "$rest" ] && PG_PORT=5432
    return 0
}

pg_host_port
if command -v pg_isready >/dev/null && ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        say "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
        for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
    fi
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" \
        || fail "PostgreSQL does not answer at $PG_HOST:$PG_PORT (set CDTG_TEST_POSTGRES_URL)"
fi

if ! command -v chromium >/dev/null; then
    say "installing Debian's chromium (for the GraphiQL and dashboard browser tests)"
    command -v apt-get >/dev/null || fail "chromium is missing and there is no apt-get to install it"
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
        || fail "could not install chromium: is the Debian package registry reachable?"
fi

command -v npm >/dev/null || fail "Node.js and npm are needed for the reference-client tests"
for dir in tests/node tests/browser; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        say "npm ci in $dir"
        npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
            || fail "npm ci in $dir failed: is the npm registry reachable?"
    fi
done

say "cargo test --workspace"
cargo test --workspace "$@"

# The whole suite (no filter given) ends with the multi-instance topology of deploy/: a primary
# and its streaming replica, three instances and HAProxy, and the faults they must survive. It
# runs the server binary the tests just built.
if [ "$#" -eq 0 ]; then
    if ! command -v haproxy >/dev/null; then
        say "installing Debian's haproxy (for the deploy/ topology checks)"
        { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; } \
            || fail "could not install haproxy: is the Debian package registry reachable?"
    fi
    bin="${CARGO_TARGET_DIR:-target}/debug/cdtg-under-test"
    [ -x "$bin" ] || fail "$bin was not built"
    say "deploy/up.sh, deploy/check.sh, deploy/down.sh --purge"
    deploy/down.sh --purge >/dev/null 2>&1 || true
    trap 'deploy/down.sh --purge >/dev/null 2>&1 || true' EXIT
    CDTG_BIN="$bin" deploy/up.sh
    deploy/check.sh
fi
