#!/usr/bin/env bash
# The cost of the shared rate-limit check (one statement per request when budgets are shared
# through PostgreSQL): pgbench runs the exact statement against a migrated database, with one
# client (the latency a request pays) and with 8 clients all spending the same address's bucket
# (the hot row every request from one office shares).
#
# Usage: bench/budgets/run.sh   (PostgreSQL on 127.0.0.1:5432, user postgres; DURATION=10,
#        CDTG_BIN=an existing cdtg binary to migrate with)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cdtg-target}"
db=cdtg_bench_budgets
duration="${DURATION:-10}"
command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: postgresql-contrib or postgresql-15)" >&2; exit 1; }
psql -qX -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
# Any cdtg binary migrates (CDTG_BIN), else the debug build.
if [ -n "${CDTG_BIN:-}" ]; then
    "$CDTG_BIN" --database-url "postgres://postgres@127.0.0.1:5432/$db" migrate up >/dev/null
else
    cargo run -q -p cdtg-api -- --database-url "postgres://postgres@127.0.0.1:5432/$db" migrate up >/dev/null
fi
for clients in 1 8; do
    printf '== %s client(s), %s s\n' "$clients" "$duration"
    pgbench -n -M prepared -h 127.0.0.1 -U postgres -f bench/budgets/rate_check.sql \
        -c "$clients" -j 2 -T "$duration" "$db" | grep -E '^(latency average|tps)'
done
psql -qX -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $db"
