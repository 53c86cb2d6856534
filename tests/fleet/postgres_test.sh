#!/usr/bin/env bash
# A real PostgreSQL server with the `tdigest` extension merges the output digests that 8
# replicas wrote with vigil's TDigest::to_postgres(), and its percentiles are at least as
# accurate as its merge of digests it built itself from the same values (docs/fleet.md,
# "PostgreSQL: output digests across replicas"). Run by ctest (tests/fleet/postgres.cmake):
#
#   postgres_test.sh --bindir /usr/lib/postgresql/15/bin --require ON|OFF
#                    --digests vigil_postgres_digests --work SCRATCH_DIR
#                    [--seed S] [--intervals I] [--values N]
#
# (the last three go to vigil_postgres_digests, to measure other data; docs/fleet.md)
#
# 1. vigil_postgres_digests (tests/fleet/postgres_digests.cpp) writes the values, the digests
#    and vigil's own merges into SCRATCH_DIR.
# 2. initdb and postgres, from Debian's postgresql-15, run a new cluster in a temporary
#    directory, listening on a free port of 127.0.0.1 and on a Unix socket in that directory
#    only. PostgreSQL refuses to run as root: run by root, the server runs as the `postgres`
#    user that Debian's package creates (`nobody` without it); run by anyone else, as that user.
# 3. psql, over 127.0.0.1, runs tests/fleet/postgres_fleet.sql: the schema of docs/fleet.md,
#    the digests inserted as text, the merges, and the checks, which end psql with an error
#    when one fails.
#
# The server is stopped on exit, failure included, and its directory removed; it also runs
# under `timeout`, so it does not outlive the test even if this script is killed.
set -euo pipefail

bindir=""
require=OFF
digests=""
work=""
layout=()
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || { echo "postgres_test.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --bindir) bindir=$2 ;;
    --require) require=$2 ;;
    --digests) digests=$2 ;;
    --work) work=$2 ;;
    --seed | --intervals | --values) layout+=("$1" "$2") ;;
    *) echo "postgres_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -n "$digests" && -n "$work" ]] || { echo "postgres_test.sh: --digests and --work are required" >&2; exit 2; }
sql=$(cd "$(dirname "$0")" && pwd)/postgres_fleet.sql
[[ "$digests" == /* ]] || digests=$PWD/$digests

missing=""
for program in initdb postgres psql pg_isready pg_config; do
  [[ -x "$bindir/$program" ]] || missing+=" $program"
done
if [[ -z "$missing" && ! -f "$("$bindir/pg_config" --sharedir)/extension/tdigest.control" ]]; then
  missing+=" the tdigest extension"
fi
if [[ -n "$missing" ]]; then
  if [[ "$require" =~ ^(ON|On|on|1|TRUE|True|true|YES|Yes|yes|Y|y)$ ]]; then  # CMake's true values
    echo "PostgreSQL is required (VIGIL_REQUIRE_POSTGRES=ON) but${missing} not found in '$bindir'; scripts/setup installs postgresql-15, postgresql-client-15 and postgresql-15-tdigest" >&2
    exit 1
  fi
  # The test's SKIP_REGULAR_EXPRESSION matches this line.
  echo "postgresql not found: the PostgreSQL fleet test is skipped (missing:${missing})"
  exit 0
fi

lifetime=100  # seconds the server may live, whatever happens to this script
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The server's files live apart from SCRATCH_DIR, whose parents its user may not enter.
server_dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-postgres.XXXXXX")
server_pid=""

as_server=()
if [[ $(id -u) -eq 0 ]]; then
  server_user=postgres
  id -u "$server_user" >/dev/null 2>&1 || server_user=nobody
  chown "$server_user" "$server_dir"
  as_server=(setpriv --reuid="$server_user" --regid="$(id -g "$server_user")" --clear-groups --)
fi

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true  # `timeout` passes it on: a fast shutdown
    wait "$server_pid" 2>/dev/null || true
  fi
  cd /
  rm -rf "$server_dir"
}
trap stop_server EXIT
trap 'exit 1' INT TERM

# shellcheck source=fail.sh
source "$(dirname "$0")/fail.sh"
fail() { fail_with_logs "$server_dir" "$@"; }

# The server's programs run in its directory, which its user may enter.
cd "$server_dir"

echo "== vigil writes the digests"
"$digests" "$work" "${layout[@]}" || fail "vigil_postgres_digests failed"
wc -l "$work/digests.csv" "$work/values.csv"

echo "== $("$bindir/postgres" --version), user $(id -un) (server: ${server_user:-$(id -un)})"
timeout --kill-after=5 60 "${as_server[@]}" "$bindir/initdb" --pgdata="$server_dir/data" --username=vigil \
  --auth=trust --encoding=UTF8 --no-locale --no-sync >"$server_dir/initdb.log" 2>&1 || fail "initdb failed"

# A port found free may be taken before the server binds it: the server then exits, and
# another port is tried. Readiness is asked on the socket in the server's own directory, so
# that no other server can answer for it.
started=""
for attempt in 1 2 3 4 5; do
  port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  log="$server_dir/postgres.log"
  timeout --signal=INT --kill-after=5 "$lifetime" "${as_server[@]}" "$bindir/postgres" -D "$server_dir/data" \
    -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$server_dir" -c max_connections=10 \
    -c fsync=off -c full_page_writes=off -c synchronous_commit=off >"$log" 2>&1 &
  server_pid=$!
  for ((waited = 0; waited < 300; waited++)); do
    if "$bindir/pg_isready" -q -h "$server_dir" -p "$port" -U vigil; then
      started=yes
      break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$started" ]] && break
  kill -0 "$server_pid" 2>/dev/null && fail "postgres runs but is not ready after 30 s"
  grep -q "could not bind" "$log" || fail "postgres ended"
  echo "port $port taken (attempt $attempt): $(grep -m 1 "could not bind" "$log")"
  mv "$log" "$server_dir/postgres.attempt$attempt.log"
done
[[ -n "$started" ]] || fail "postgres did not start"
echo "postgres ready on 127.0.0.1:$port"

echo "== the tdigest extension merges the digests"
(cd "$work" && PGOPTIONS="-c statement_timeout=60s" PGCONNECT_TIMEOUT=10 \
  timeout --kill-after=5 90 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U vigil \
  -d postgres -f "$sql") || fail "the PostgreSQL checks failed"
echo "PostgreSQL fleet test passed in $SECONDS s"
