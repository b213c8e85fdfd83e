#!/usr/bin/env bash
# A CPU flame graph of the release server answering one benchmark query under load.
#
#   bench/profile.sh                 # Q2 on PostgreSQL, scale 1 -> bench/flamegraph-q2.svg
#   bench/profile.sh Q4 20           # another query (Q1, Q2 or Q4), 20 s of samples
#
# It seeds a scratch database (`cdtg_profile`, dropped first), starts `cdtg serve` on it with the
# harness's settings (rate limits off, one admin token), loads it with wrk (1 thread, 8
# connections, the harness's Lua script) while `perf record` samples the server at 999 Hz with
# DWARF call graphs, and folds the samples into an SVG with inferno. Needs perf (Debian
# `linux-perf`) and installs wrk and inferno when they are missing. The SVG is interactive in a
# browser: click a frame to zoom, Ctrl-F to search.
set -euo pipefail

query="${1:-Q2}"
seconds="${2:-15}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cdtg-target}"
work="${BENCH_WORKDIR:-/var/tmp/cdtg-bench}/profile"
db=cdtg_profile
port=18085
secret=bench-secret-bench-secret-bench-secret-0123456789
say() { printf '[profile.sh] %s\n' "$*"; }

command -v perf >/dev/null || { say "perf is missing (apt-get install linux-perf)"; exit 1; }
command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
command -v inferno-flamegraph >/dev/null || { say "installing inferno"; cargo install -q inferno; }

say "building the release server"
cargo build -q --release -p cdtg-api --manifest-path "$repo/Cargo.toml"
cdtg="$CARGO_TARGET_DIR/release/cdtg"

mkdir -p "$work"
say "seeding $db (scale 1)"
psql -qX "postgres://postgres@127.0.0.1:5432/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
"$cdtg" seed demo --scale 1 --database-url "postgres://postgres@127.0.0.1:5432/$db" >/dev/null
# The harness's helper functions (its choice of ward and district uses them).
psql -qX -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:5432/$db" -f "$here/sql/setup.sql" >/dev/null
psql -qX "postgres://postgres@127.0.0.1:5432/$db" -c "VACUUM ANALYZE"

DATABASE_URL="postgres://postgres@localhost/$db?host=/var/run/postgresql" CDTG_BIND="127.0.0.1:$port" \
  CDTG_JWT_SECRET="$secret" CDTG_RATE_LIMIT_PER_USER=0 CDTG_RATE_LIMIT_PER_ADDRESS=0 \
  CDTG_ACCESS_TOKEN_TTL_SECS=86400 CDTG_LOG_FORMAT=text RUST_LOG=warn \
  "$cdtg" serve >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

# The query bodies the harness sends (same ids: the harness's own selection).
PYTHONPATH="$here" /usr/bin/python3 - "$query" "$port" "$db" "$work" <<'EOF'
import json, sys
import harness as h
query, port, db, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = f"http://127.0.0.1:{port}"
token = h.login(base)
ids = h.discover_ids(db)
cursor = h.q4_cursor(base, token, ids.district) if query == "Q4" else None
req = h.build_requests("cdtg", ids, token, cursor)[query]
open(f"{work}/body.json", "w").write(json.dumps(req.body))
open(f"{work}/auth", "w").write(f"Bearer {token}")
EOF

say "loading $query for ${seconds} s under perf"
perf record -q -F 999 -g --call-graph dwarf,16384 -p "$server" -o "$work/perf.data" -- sleep "$((seconds + 1))" 2>/dev/null &
recorder=$!
sleep 0.5
BENCH_BODY_FILE="$work/body.json" BENCH_AUTH="$(cat "$work/auth")" \
  wrk -t1 -c8 -d"${seconds}s" -s "$here/lua/graphql.lua" "http://127.0.0.1:$port/graphql" | grep -E "Requests/sec|BENCH_RESULT" | cut -c1-200
wait "$recorder" || true

out="$here/flamegraph-$(echo "$query" | tr '[:upper:]' '[:lower:]').svg"
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf | \
  inferno-flamegraph --title "cdtg serve: $query, scale 1, PostgreSQL ($(git -C "$repo" rev-parse --short HEAD))" >"$out"
say "wrote $out"
