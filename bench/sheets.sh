#!/usr/bin/env bash
# Spreadsheet benchmark: a 10,000-member XLSX import (dry run and commit) and a whole-city
# roster export (130,000 members at demo scale 10) as XLSX and CSV, with the server's peak RSS.
# Builds the server (release unless BENCH_PROFILE=debug), installs openpyxl if missing, then
# hands over to bench/sheets.py, which seeds a fresh database, starts the server on loopback,
# measures, stops it and writes bench/SHEETS.md.
#
#   bench/sheets.sh                              # PostgreSQL, scale 10, 10,000 rows
#   BENCH_SHEETS_DB=sqlite bench/sheets.sh
#   BENCH_SHEETS_SCALE=1 BENCH_SHEETS_ROWS=2000 bench/sheets.sh   # a quick look
#
# Environment: BENCH_SHEETS_DB (postgres|sqlite), BENCH_SHEETS_SCALE, BENCH_SHEETS_ROWS,
# BENCH_PROFILE (release|debug), CARGO_TARGET_DIR (default /var/tmp/cdtg-target),
# BENCH_WORKDIR (default /var/tmp/cdtg-bench/sheets).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cdtg-target}"
export BENCH_WORKDIR="${BENCH_WORKDIR:-/var/tmp/cdtg-bench/sheets}"
export BENCH_PROFILE="${BENCH_PROFILE:-release}"

say() { printf '[sheets.sh] %s\n' "$*"; }

if [ "${BENCH_SHEETS_DB:-postgres}" = postgres ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
python3 -c 'import openpyxl' 2>/dev/null || { say "installing openpyxl"; python3 -m pip install -q openpyxl; }

profile_flag=()
[ "$BENCH_PROFILE" = release ] && profile_flag=(--release)
say "building cdtg ($BENCH_PROFILE)"
(cd "$repo" && cargo build -q "${profile_flag[@]}" -p cdtg-api --bin cdtg)
export CDTG_BIN="$CARGO_TARGET_DIR/$BENCH_PROFILE/cdtg"
[ "$BENCH_PROFILE" = release ] || export CDTG_BIN="$CARGO_TARGET_DIR/debug/cdtg"

exec python3 "$here/sheets.py"
