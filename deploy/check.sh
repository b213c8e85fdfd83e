#!/usr/bin/env bash
# deploy/check.sh — the end-to-end fault checks of the topology deploy/up.sh started.
#
# Usage:
#   deploy/check.sh              run every check
#   deploy/check.sh b kill …     run the checks named, by letter or by name
#
#   a demo      the demo answers through the balancer; a token from one instance works on all
#   b kill      kill -9 one instance under load: failures at most the requests in flight
#   c retry     field reports resent after an instance was killed among them: stored once each
#   d events    a subscriber on one instance receives task events of writes on every instance
#   e login     wrong passwords spread over the instances share one login budget
#   f replica   reads go to the replica, fall back to the primary while it is down, and return
#   g primary   after a primary restart, and a 5 s stop, every instance recovers by itself
#   h resume    a subscriber whose instance is killed resubscribes elsewhere with `after:`
#               and receives every event it missed
#
# The checks kill and restart instances and stop and start the replica and the primary; they
# leave the topology running. Prints what it measured and a summary table; exits 1 when any
# check failed. Python 3 (standard library only) does the work, in deploy/check.py.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
command -v python3 >/dev/null || die "the checks need python3"
exec python3 "$deploy_dir/check.py" "$@"
