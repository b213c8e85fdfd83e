#!/usr/bin/env bash
# CDTG benchmark: one command. Builds the release server and the floor, installs what is
# missing (wrk, matplotlib, Node 22 + PostGraphile 5 in a cache outside the repo), then hands
# over to bench/harness.py, which seeds fresh databases, starts the four arms on loopback
# ports, runs wrk, validates every response, and writes bench/RESULTS.md, bench/results.png
# and bench/results.json. Everything it starts is stopped when it exits (harness.py's exit
# handlers; this script `exec`s into it so a signal reaches it directly).
#
#   bench/run.sh                       # scale 1, PostgreSQL and SQLite (~13 min + the build)
#   BENCH_SCALES=1,10 bench/run.sh     # also scale 10 (add 100 for the p99 growth target)
#   bench/run.sh --queries Q1,Q3 --duration 10 --rounds 5
#
# Environment: BENCH_SCALES, BENCH_DBS (postgres,sqlite), BENCH_ARMS, BENCH_QUERIES,
# BENCH_DURATION (s), BENCH_WARMUP (s), BENCH_ROUNDS, BENCH_CONNECTIONS, CARGO_TARGET_DIR
# (default /var/tmp/cdtg-target), BENCH_NODE_DIR (default /var/tmp/cdtg-bench-node),
# BENCH_WORKDIR (default /var/tmp/cdtg-bench/run). `bench/harness.py --help` lists the flags.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cdtg-target}"
export BENCH_NODE_DIR="${BENCH_NODE_DIR:-/var/tmp/cdtg-bench-node}"
export BENCH_WORKDIR="${BENCH_WORKDIR:-/var/tmp/cdtg-bench/run}"
# Debian's interpreter: python3-matplotlib installs into it (a pyenv python would not see it).
py=/usr/bin/python3

say() { printf '[run.sh] %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- tools from Debian ---------------------------------------------------------------------
command -v wrk >/dev/null || { say "installing wrk"; apt_install wrk; }
command -v psql >/dev/null || { say "installing postgresql-client"; apt_install postgresql-client; }
[ -x "$py" ] || { say "installing python3"; apt_install python3; }
"$py" -c 'import matplotlib' 2>/dev/null || { say "installing python3-matplotlib"; apt_install python3-matplotlib; }

# --- PostgreSQL (127.0.0.1:5432, user postgres, trust) --------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

# --- Node 22 and PostGraphile 5, cached outside the repo -------------------------------------
# The machine's Node is 20; PostGraphile 5 needs 22, which the npm package node@22 provides.
if [ ! -x "$BENCH_NODE_DIR/node_modules/.bin/node" ] || [ ! -e "$BENCH_NODE_DIR/node_modules/.bin/postgraphile" ]; then
  say "installing node@22 and postgraphile@5 into $BENCH_NODE_DIR"
  mkdir -p "$BENCH_NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$BENCH_NODE_DIR" node@22 >/dev/null
  PATH="$BENCH_NODE_DIR/node_modules/.bin:$PATH" \
    npm install --silent --no-audit --no-fund --prefix "$BENCH_NODE_DIR" node@22 postgraphile@5 >/dev/null
fi

# --- the release server and the floor (one cargo job; ~9 min from clean on 2 cores) ----------
say "building cdtg and the floor (release, target dir $CARGO_TARGET_DIR)"
(cd "$repo" && cargo build --release --quiet -p cdtg-api -p cdtg-bench-floor)
export CDTG_BIN="$CARGO_TARGET_DIR/release/cdtg"
export FLOOR_BIN="$CARGO_TARGET_DIR/release/cdtg-bench-floor"

say "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$py" "$here/harness.py" "$@"
