# deploy/lib.sh — helpers shared by up.sh, down.sh and check.sh (sourced, not run).
#
# Defines the paths of the topology's state (deploy/.run), how PostgreSQL commands are run
# (as the `postgres` system user when the caller is root: PostgreSQL refuses to run as root),
# and small process helpers that only ever touch processes whose pid files live in .run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the scripts that source it

deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$deploy_dir")
run_dir=$deploy_dir/.run
settings_file=$run_dir/settings.env

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Runs a PostgreSQL program as the owner of the clusters.
as_pg() {
	if [[ $EUID -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# The PostgreSQL 15 binaries: CDTG_DEPLOY_PG_BINDIR, Debian's path, or `pg_config --bindir`.
find_pg_bindir() {
	local dir
	for dir in "${CDTG_DEPLOY_PG_BINDIR:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
		if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/pg_basebackup ]]; then
			if [[ $("$dir/postgres" --version) == *" 15."* ]]; then
				echo "$dir"
				return 0
			fi
		fi
	done
	return 1
}

# Reads .run/settings.env (written by up.sh) into shell variables.
load_settings() {
	[[ -f $settings_file ]] || die "no topology in $run_dir; start it with deploy/up.sh"
	local key value
	while IFS='=' read -r key value; do
		case $key in
		PG_BINDIR) pg_bindir=$value ;;
		PG_PORT) pg_port=$value ;;
		REPLICA_PORT) replica_port=$value ;;
		LB_PORT) lb_port=$value ;;
		STATS_PORT) stats_port=$value ;;
		INSTANCE_PORTS) IFS=',' read -r -a instance_ports <<<"$value" ;;
		CDTG_BIN) cdtg_bin=$value ;;
		esac
	done <"$settings_file"
}

# The pid in a pid file, if that process still runs and is the program named.
live_pid() {
	local pidfile=$1 program=$2 pid cmdline
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$program"* ]] || return 1
	echo "$pid"
}

# Whether a PostgreSQL data directory has a running postmaster.
pg_running() {
	local datadir=$1
	[[ -f $datadir/postmaster.pid ]] || return 1
	as_pg "$pg_bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# Whether PORT is taken on this machine: something listens on it, or any socket other than a
# closing one holds it as its local port. The second matters because an outgoing connection
# (a test's connection to PostgreSQL, say) can hold a port in the ephemeral range for a while,
# and a server cannot bind it until that connection closes.
port_in_use() {
	(: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	command -v ss >/dev/null || return 1
	[[ -n $(ss -Htan exclude time-wait "sport = :$1" 2>/dev/null) ]]
}

# The first port from START upwards that is free and not among the ports already given.
free_port_from() {
	local port=$1
	shift
	while port_in_use "$port" || [[ " $* " == *" $port "* ]]; do
		port=$((port + 1))
		((port < 32768)) || die "no free port from $1 up to 32767"
	done
	echo "$port"
}

# Waits until a command succeeds: wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
	local seconds=$1 what=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			warn "gave up after ${seconds}s waiting for $what"
			return 1
		fi
		sleep 0.25
	done
}
