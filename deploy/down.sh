#!/usr/bin/env bash
# deploy/down.sh — stop the local topology that deploy/up.sh started: HAProxy, the CDTG
# instances, the replica and the primary (pg_ctl stop -m fast), in that order.
#
# Usage:
#   deploy/down.sh           stop everything; the data stays in deploy/.run for the next up.sh
#   deploy/down.sh --purge   stop everything and delete deploy/.run (databases, logs, secret)
#
# Only processes named by the pid files and data directories in deploy/.run are touched.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=false
case ${1:-} in
"") ;;
--purge) purge=true ;;
-h | --help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*) die "usage: deploy/down.sh [--purge]" ;;
esac

# Sends SIGTERM to the process of a pid file and waits for it to end (SIGKILL after SECONDS).
stop_process() {
	local name=$1 pidfile=$2 program=$3 seconds=$4 pid
	if ! pid=$(live_pid "$pidfile" "$program"); then
		rm -f "$pidfile"
		return
	fi
	say "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + seconds))
	while [[ -d /proc/$pid ]] && live_pid "$pidfile" "$program" >/dev/null; do
		if ((SECONDS >= deadline)); then
			warn "$name did not stop in ${seconds}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
}

stop_cluster() {
	local name=$1 data=$run_dir/$1
	[[ -n ${pg_bindir:-} && -f $data/postmaster.pid ]] || return 0
	if pg_running "$data"; then
		say "stopping PostgreSQL $name"
		as_pg "$pg_bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	fi
}

if [[ ! -d $run_dir ]]; then
	say "nothing to stop (no deploy/.run)"
	exit 0
fi

if [[ -f $settings_file ]]; then
	load_settings
else
	pg_bindir=$(find_pg_bindir) || pg_bindir=
fi

stop_process haproxy "$run_dir/haproxy.pid" haproxy 10
# In parallel: each drains its requests (up to 30 s) at the same time as the others.
for pidfile in "$run_dir"/cdtg-*.pid; do
	[[ -e $pidfile ]] || continue
	stop_process "$(basename "$pidfile" .pid)" "$pidfile" cdtg 40 &
done
wait
stop_cluster replica
stop_cluster primary

if $purge; then
	say "deleting deploy/.run"
	rm -rf "$run_dir"
fi
say "stopped"
