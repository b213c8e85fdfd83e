#!/usr/bin/env bash
# deploy/up.sh — start the local multi-instance CDTG topology with one command:
#
#   PostgreSQL 15 primary (127.0.0.1:15432) ──streaming──▶ replica (127.0.0.1:15433)
#        ▲ writes, LISTEN/NOTIFY                              ▲ read-only operations
#        └──────────── cdtg-1 :8181 · cdtg-2 :8182 · cdtg-3 :8183 ◀── HAProxy :8180 (stats :8189)
#
# Usage:
#   deploy/up.sh                 create whatever is missing under deploy/.run and start it all
#   deploy/up.sh --instance N    start instance N again (after it was killed) on a running topology
#
# The first run initialises both clusters, builds the release binary (unless CDTG_BIN names
# one), migrates and seeds the demo. Later runs (after deploy/down.sh) reuse the data. It refuses
# to start over a topology that is already running. deploy/down.sh stops everything.
#
# Environment (the ports are chosen when deploy/.run is created; later runs keep them; a default
# port that is taken then moves up to the next free one, a port given here is used as given):
#   CDTG_BIN                    an existing cdtg binary to use instead of building one
#   CDTG_DEPLOY_PG_PORT         the primary's port (15432)
#   CDTG_DEPLOY_REPLICA_PORT    the replica's port (15433)
#   CDTG_DEPLOY_PORT            the load balancer's port (8180)
#   CDTG_DEPLOY_STATS_PORT      HAProxy's stats page (8189)
#   CDTG_DEPLOY_INSTANCE_PORTS  the instances' ports ("8181 8182 8183"; any number of them)
#   CDTG_DEPLOY_RETRY_ON        HAProxy's retry-on ("conn-failure empty-response")
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

replica_slot=cdtg_replica

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}

# --- settings ---------------------------------------------------------------------------------

choose_settings() {
	if [[ -f $settings_file ]]; then
		local wanted_pg=${CDTG_DEPLOY_PG_PORT:-}
		load_settings
		if [[ -n $wanted_pg && $wanted_pg != "$pg_port" ]]; then
			warn "deploy/.run was created with the primary on port $pg_port; keeping it (down.sh --purge to start afresh)"
		fi
	else
		pg_bindir=$(find_pg_bindir) || die "PostgreSQL 15 not found (apt-get install postgresql-15, or set CDTG_DEPLOY_PG_BINDIR)"
		# A port given in the environment is used as given (and refused later if taken). A default
		# that is taken moves up to the next free port, so a stray program or a lingering
		# connection does not stop the demo. The defaults lie below the kernel's ephemeral range
		# (32768 and up on Linux), where outgoing connections never take them.
		local taken=()
		pg_port=${CDTG_DEPLOY_PG_PORT:-$(free_port_from 15432)}
		taken+=("$pg_port")
		replica_port=${CDTG_DEPLOY_REPLICA_PORT:-$(free_port_from 15433 "${taken[@]}")}
		taken+=("$replica_port")
		lb_port=${CDTG_DEPLOY_PORT:-$(free_port_from 8180 "${taken[@]}")}
		taken+=("$lb_port")
		stats_port=${CDTG_DEPLOY_STATS_PORT:-$(free_port_from 8189 "${taken[@]}")}
		taken+=("$stats_port")
		if [[ -n ${CDTG_DEPLOY_INSTANCE_PORTS:-} ]]; then
			read -r -a instance_ports <<<"$CDTG_DEPLOY_INSTANCE_PORTS"
		else
			instance_ports=()
			local next=8181
			for _ in 1 2 3; do
				next=$(free_port_from "$next" "${taken[@]}")
				instance_ports+=("$next")
				taken+=("$next")
				next=$((next + 1))
			done
		fi
	fi
	((${#instance_ports[@]} >= 1)) || die "no instance ports"
	primary_url=postgres://postgres@127.0.0.1:$pg_port/cdtg
	replica_url=postgres://postgres@127.0.0.1:$replica_port/cdtg
}

write_settings() {
	local ports
	ports=$(
		IFS=,
		echo "${instance_ports[*]}"
	)
	cat >"$settings_file" <<-EOF
		PG_BINDIR=$pg_bindir
		PG_PORT=$pg_port
		REPLICA_PORT=$replica_port
		LB_PORT=$lb_port
		STATS_PORT=$stats_port
		INSTANCE_PORTS=$ports
		CDTG_BIN=$cdtg_bin
	EOF
}

# --- the binary -------------------------------------------------------------------------------

find_binary() {
	if [[ -n ${CDTG_BIN:-} ]]; then
		[[ -x $CDTG_BIN ]] || die "CDTG_BIN=$CDTG_BIN is not an executable file"
		cdtg_bin=$(realpath "$CDTG_BIN")
		say "using $cdtg_bin"
		return
	fi
	command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) or set CDTG_BIN"
	say "building the release binary (cargo build --release -p cdtg-api)"
	(cd "$repo_dir" && cargo build --release -p cdtg-api)
	cdtg_bin=${CARGO_TARGET_DIR:-$repo_dir/target}/release/cdtg
	[[ $cdtg_bin == /* ]] || cdtg_bin=$repo_dir/$cdtg_bin
	[[ -x $cdtg_bin ]] || die "the build did not produce $cdtg_bin"
}

# --- PostgreSQL -------------------------------------------------------------------------------

psql_at() {
	local port=$1
	shift
	"$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# An empty directory (or log file) the clusters' owner can write.
pg_owned_dir() {
	mkdir -p "$1"
	chmod 700 "$1"
	[[ $EUID -ne 0 ]] || chown postgres:postgres "$1"
}
pg_owned_file() {
	touch "$1"
	[[ $EUID -ne 0 ]] || chown postgres:postgres "$1"
}

create_primary() {
	local data=$run_dir/primary
	say "initdb: the primary in deploy/.run/primary (port $pg_port)"
	pg_owned_dir "$data"
	as_pg "$pg_bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C.UTF-8 >"$run_dir/initdb.log" 2>&1 || {
		cat "$run_dir/initdb.log" >&2
		die "initdb failed"
	}
	cat >>"$data/postgresql.conf" <<-EOF

		# --- deploy/up.sh: a primary that streams to a hot standby ---
		listen_addresses = '127.0.0.1'
		port = $pg_port
		unix_socket_directories = ''
		max_connections = 200
		wal_level = replica
		max_wal_senders = 10
		max_replication_slots = 10
		wal_keep_size = '256MB'
		hot_standby = on
		hot_standby_feedback = on
	EOF
	# A local demo: trust on the loopback address only. Production uses scram-sha-256 with a
	# password for the application and a separate replication role.
	cat >"$data/pg_hba.conf" <<-EOF
		# TYPE  DATABASE     USER  ADDRESS       METHOD
		host    all          all   127.0.0.1/32  trust
		host    replication  all   127.0.0.1/32  trust
	EOF
}

start_cluster() {
	local name=$1 port=$2 data=$run_dir/$1
	if pg_running "$data"; then
		say "PostgreSQL $name already runs"
		return
	fi
	! port_in_use "$port" || die "port $port is taken by another program; choose CDTG_DEPLOY_${name^^}_PORT"
	say "starting PostgreSQL $name on 127.0.0.1:$port"
	pg_owned_file "$run_dir/$name.log"
	as_pg "$pg_bindir/pg_ctl" -D "$data" -l "$run_dir/$name.log" -w -t 120 start >/dev/null || {
		tail -n 20 "$run_dir/$name.log" >&2
		die "PostgreSQL $name did not start (log: deploy/.run/$name.log)"
	}
}

create_database() {
	if [[ -z $(psql_at "$pg_port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'cdtg'") ]]; then
		say "creating database cdtg"
		psql_at "$pg_port" -d postgres -c 'CREATE DATABASE cdtg'
	fi
}

create_replica() {
	local data=$run_dir/replica
	say "pg_basebackup: a streaming replica in deploy/.run/replica (port $replica_port)"
	# A slot left by an earlier replica would hold WAL for nobody.
	psql_at "$pg_port" -d postgres -tAc \
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$replica_slot'" >/dev/null
	rm -rf "$data"
	pg_owned_dir "$data"
	# -R: write standby.signal and primary_conninfo; -X stream: WAL streamed during the copy;
	# -C -S: a physical slot, so the primary keeps the WAL a stopped replica still needs.
	as_pg "$pg_bindir/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$data" \
		-R -X stream -c fast -C -S "$replica_slot" || die "pg_basebackup failed"
	echo "port = $replica_port" >>"$data/postgresql.auto.conf"
}

replica_streams() {
	[[ $(psql_at "$pg_port" -d postgres -tAc \
		"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") -ge 1 ]]
}

wait_streaming() {
	wait_for 60 "the replica to stream from the primary" replica_streams ||
		warn "the replica is not streaming yet (see deploy/.run/replica.log)"
}

# --- the schema and the demo ------------------------------------------------------------------

migrate_and_seed() {
	say "migrating (cdtg migrate up)"
	"$cdtg_bin" --database-url "$primary_url" migrate up
	if [[ $(psql_at "$pg_port" -d cdtg -tAc 'SELECT EXISTS (SELECT 1 FROM admin_units)') == t ]]; then
		say "the database already holds data; not seeding"
	else
		say "seeding the demo (cdtg seed demo)"
		"$cdtg_bin" --database-url "$primary_url" seed demo
	fi
}

# --- the instances ----------------------------------------------------------------------------

jwt_secret() {
	local file=$run_dir/jwt_secret
	if [[ ! -s $file ]]; then
		(
			umask 077
			head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' >"$file"
		)
	fi
	cat "$file"
}

start_instance() {
	local n=$1 port=${instance_ports[$1 - 1]}
	local pidfile=$run_dir/cdtg-$n.pid log=$run_dir/cdtg-$n.log secret
	if live_pid "$pidfile" "$cdtg_bin" >/dev/null; then
		die "cdtg-$n already runs (pid $(<"$pidfile"))"
	fi
	! port_in_use "$port" || die "port $port is taken by another program"
	secret=$(jwt_secret)
	say "starting cdtg-$n on 127.0.0.1:$port (log: deploy/.run/cdtg-$n.log)"
	printf '\n--- %s: cdtg-%s starts ---\n' "$(date -Is)" "$n" >>"$log"
	(
		# Only what this topology decides; other CDTG_* settings in the environment pass through.
		unset CDTG_METRICS_BIND CDTG_DEMO
		export DATABASE_URL=$primary_url
		export CDTG_DATABASE_READ_URL=$replica_url
		export CDTG_JWT_SECRET=$secret
		export CDTG_TRUSTED_PROXIES=127.0.0.1/32
		export CDTG_BIND=127.0.0.1:$port
		# Plain text in the log files (the logger colours its output unless told not to).
		export NO_COLOR=1
		# Its own session: a Ctrl-C in the terminal that started it does not reach it.
		exec setsid "$cdtg_bin" serve </dev/null >>"$log" 2>&1
	) &
	echo $! >"$pidfile"
}

instance_ready() {
	curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/readyz"
}

wait_instance() {
	local n=$1 port=${instance_ports[$1 - 1]} deadline=$((SECONDS + 120))
	until instance_ready "$port" 2>/dev/null; do
		if ! live_pid "$run_dir/cdtg-$n.pid" "$cdtg_bin" >/dev/null; then
			tail -n 5 "$run_dir/cdtg-$n.log" >&2
			die "cdtg-$n exited (log: deploy/.run/cdtg-$n.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$run_dir/cdtg-$n.log" >&2
			die "cdtg-$n is not ready after 120 s (log: deploy/.run/cdtg-$n.log)"
		fi
		sleep 0.25
	done
	live_pid "$run_dir/cdtg-$n.pid" "$cdtg_bin" >/dev/null ||
		die "cdtg-$n answers, but not from the process in its pid file: is another server on port $port?"
}

# --- HAProxy ----------------------------------------------------------------------------------

ensure_haproxy() {
	command -v haproxy >/dev/null && return
	[[ -x /usr/sbin/haproxy ]] && return
	say "installing haproxy"
	[[ $EUID -eq 0 ]] || die "haproxy is missing: sudo apt-get install -y haproxy"
	DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null; } ||
		die "could not install haproxy"
}

start_haproxy() {
	local haproxy servers="" i cfg=$run_dir/haproxy.cfg
	haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
	for i in "${!instance_ports[@]}"; do
		servers+="    server cdtg-$((i + 1)) 127.0.0.1:${instance_ports[i]} check"$'\n'
	done
	local template
	template=$(<"$deploy_dir/haproxy.cfg")
	template=${template//@RUN_DIR@/$run_dir}
	template=${template//@LB_PORT@/$lb_port}
	template=${template//@STATS_PORT@/$stats_port}
	template=${template//@RETRY_ON@/${CDTG_DEPLOY_RETRY_ON:-conn-failure empty-response}}
	template=${template//@SERVERS@/${servers%$'\n'}}
	printf '%s\n' "$template" >"$cfg"
	"$haproxy" -c -q -f "$cfg" || die "HAProxy refuses $cfg"
	! port_in_use "$lb_port" || die "port $lb_port is taken by another program"
	say "starting HAProxy on 127.0.0.1:$lb_port (stats on :$stats_port)"
	# Daemonised; the configuration names the pid file.
	"$haproxy" -D -f "$cfg" >"$run_dir/haproxy.log" 2>&1 || {
		cat "$run_dir/haproxy.log" >&2
		die "HAProxy did not start"
	}
}

balancer_answers() {
	local body
	body=$(curl -fsS -m 5 -H 'content-type: application/json' \
		-d '{"query":"{ __typename }"}' "http://127.0.0.1:$lb_port/graphql") &&
		[[ $body == *'"__typename"'* ]]
}

# --- main -------------------------------------------------------------------------------------

refuse_if_running() {
	local running=() f
	for f in "$run_dir"/cdtg-*.pid; do
		[[ -e $f ]] || continue
		if live_pid "$f" cdtg >/dev/null; then running+=("$(basename "$f" .pid)"); fi
	done
	if live_pid "$run_dir/haproxy.pid" haproxy >/dev/null; then running+=(haproxy); fi
	if ((${#running[@]})); then
		die "already running (${running[*]}); deploy/down.sh stops it first"
	fi
}

up() {
	mkdir -p "$run_dir"
	chmod 755 "$run_dir"
	refuse_if_running
	trap on_exit EXIT
	choose_settings
	find_binary
	write_settings
	[[ -d $run_dir/primary ]] || create_primary
	start_cluster primary "$pg_port"
	create_database
	[[ -f $run_dir/replica/standby.signal ]] || create_replica
	start_cluster replica "$replica_port"
	wait_streaming
	migrate_and_seed
	local i
	for i in "${!instance_ports[@]}"; do start_instance $((i + 1)); done
	for i in "${!instance_ports[@]}"; do wait_instance $((i + 1)); done
	ensure_haproxy
	start_haproxy
	wait_for 60 "the balancer to answer { __typename }" balancer_answers ||
		die "the balancer does not answer; see deploy/.run/cdtg-*.log and http://127.0.0.1:$stats_port/"
	cat <<-EOF

		CDTG runs behind HAProxy:
		  GraphQL     http://127.0.0.1:$lb_port/graphql   (WebSocket: ws://127.0.0.1:$lb_port/graphql)
		  GraphiQL    http://127.0.0.1:$lb_port/graphiql
		  dashboard   http://127.0.0.1:$lb_port/dashboard
		  HAProxy     http://127.0.0.1:$stats_port/
		  instances   $(for p in "${instance_ports[@]}"; do printf 'http://127.0.0.1:%s  ' "$p"; done)(/readyz, /metrics)
		  primary     $primary_url
		  replica     $replica_url
		Demo accounts (admin, sontra, phuocmy, …) sign in with the password demo-password.
		Logs and state: deploy/.run/   Checks: deploy/check.sh   Stop: deploy/down.sh
	EOF
}

restart_instance() {
	local n=$1
	load_settings
	primary_url=postgres://postgres@127.0.0.1:$pg_port/cdtg
	replica_url=postgres://postgres@127.0.0.1:$replica_port/cdtg
	if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > ${#instance_ports[@]})); then
		die "--instance takes 1 to ${#instance_ports[@]}"
	fi
	pg_running "$run_dir/primary" || die "the primary is not running; start everything with deploy/up.sh"
	start_instance "$n"
	wait_instance "$n"
	say "cdtg-$n is ready; HAProxy puts it back in rotation after two good checks"
}

on_exit() {
	local status=$?
	if ((status != 0)); then
		printf 'up.sh stopped early; logs are in deploy/.run/, and deploy/down.sh stops what did start\n' >&2
	fi
}

case ${1:-} in
"") up ;;
--instance)
	[[ $# -eq 2 ]] || usage 2
	restart_instance "$2"
	;;
-h | --help) usage ;;
*) usage 2 ;;
esac
