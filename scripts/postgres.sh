#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests.
#
#   eval "$(scripts/postgres.sh)"     # installs PostgreSQL from Debian's packages if missing, starts a server on a
#                                     # free loopback port, prints `export CONSENTINEL_TEST_POSTGRES_URL=postgres://…`
#   scripts/postgres.sh stop          # stops it and removes its folder
#   scripts/postgres.sh restart [S]   # stops it and starts it again on the same port S seconds later
#
# Idempotent: a second start while the server runs prints the same line again. Everything but the export line goes
# to standard error. As root, the server runs as the `postgres` user (initdb refuses root).
# The folder is one per checkout (/tmp/consentinel-test-postgres-<checksum of its path>), so that two checkouts on one
# machine run their own servers; CONSENTINEL_PG_DIR overrides it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="${CONSENTINEL_PG_DIR:-/tmp/consentinel-test-postgres-$(printf '%s' "$root" | cksum | cut -d' ' -f1)}"
data="$dir/data"
user=consentinel
password=consentinel
database=consentinel_test

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] && echo "$bin"
}

# Runs a command as the server's owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

bin=$(find_bin || true)

# Starts the server with no descriptor but 0–2 of ours: a server left holding one its caller waits on (Foundation's
# Process watches a socket that only closes when every holder has exited) would keep the caller waiting forever.
start_server() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-"; fi
    done
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir -c fsync=off -c max_connections=200" start >/dev/null 2>&1
  )
}

if [ "${1:-start}" = "stop" ]; then
  if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    say "stopped"
  fi
  rm -rf "$dir"
  exit 0
fi

# Stops the running server and starts it again on the same port after PAUSE seconds (the store-fault tests).
if [ "${1:-}" = "restart" ]; then
  [ -n "$bin" ] && [ -f "$dir/url" ] || { say "no server to restart"; exit 1; }
  port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
  as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
  sleep "${2:-0}"
  start_server "$port" || { say "the server did not start again"; cat "$dir/server.log" >&2; exit 1; }
  say "restarted on 127.0.0.1:$port"
  exit 0
fi

# Already running: print its URL again.
if [ -n "$bin" ] && [ -f "$dir/url" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "export CONSENTINEL_TEST_POSTGRES_URL=$(cat "$dir/url")"
  exit 0
fi

if [ -z "$bin" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing postgresql from Debian's packages"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
  bin=$(find_bin || true)
  [ -n "$bin" ] || { say "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"; exit 1; }
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# A fresh cluster: whatever was left of an earlier one is stale.
rm -rf "$dir"
mkdir -p "$dir"
chmod 700 "$dir"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
printf '%s\n' "$password" >"$dir/pwfile"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pwfile"
as_owner "$bin/initdb" -D "$data" -U "$user" --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  port_free "$port" || continue
  if start_server "$port"; then
    started=yes
    break
  fi
done
[ -n "$started" ] || { say "the server did not start"; cat "$dir/server.log" >&2 || true; exit 1; }

as_owner "$bin/createdb" -h "$dir" -p "$port" -U "$user" "$database"
url="postgres://$user:$password@127.0.0.1:$port/$database"
echo "$url" >"$dir/url"
say "running on 127.0.0.1:$port (data in $data)"
echo "export CONSENTINEL_TEST_POSTGRES_URL=$url"
