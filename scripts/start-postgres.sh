#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and CI.
#
#   eval "$(scripts/start-postgres.sh)"        # start; exports DATABASE_URL and LUMENSLATE_PG_DIR
#   scripts/start-postgres.sh stop [DIR]       # stop the server in DIR (default $LUMENSLATE_PG_DIR), remove DIR
#
# Start makes a fresh cluster in a temp dir, listening on a free port on 127.0.0.1 only, with its
# unix socket inside that dir, a database `lumenslate_test` and a password-authenticated role that
# owns it (with CREATEDB, so suites may make databases of their own). Only the `export` lines go to
# stdout; progress and errors go to stderr. If the server binaries are missing they are installed
# from Debian's packages (needs root). As root the cluster is run by the `postgres` system user,
# because initdb refuses to run as root.
set -euo pipefail

log() { echo "start-postgres: $*" >&2; }
fail() {
  log "$*"
  exit 1
}

# Run a command as the cluster owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Debian keeps initdb/pg_ctl/postgres in /usr/lib/postgresql/<major>/bin, off PATH; prefer PATH,
# then the newest installed major version.
find_bin_dir() {
  local initdb_path dir
  if initdb_path="$(command -v initdb 2>/dev/null)" && command -v pg_ctl >/dev/null 2>&1; then
    dir="$(dirname "$(readlink -f "$initdb_path")")"
    if [[ -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  fi
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

install_postgres() {
  [[ $EUID -eq 0 ]] || fail "PostgreSQL server binaries not found and not root, so cannot apt-get install them"
  command -v apt-get >/dev/null 2>&1 || fail "PostgreSQL server binaries not found and apt-get is not available"
  log "PostgreSQL not found; installing it with apt-get"
  # No stdin in CI: never prompt. Debian's postinst makes a default cluster; in containers its
  # service start is usually refused by policy-rc.d, and either way we do not use it.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 || { sleep 5 && apt-get update >&2; }
  apt-get install -y --no-install-recommends postgresql >&2
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

cleanup_dir=""

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

stop_cluster() {
  local dir="${1:-${LUMENSLATE_PG_DIR:-}}"
  [[ -n "$dir" ]] || fail "usage: $0 stop DIR (or set LUMENSLATE_PG_DIR)"
  if [[ ! -d "$dir" ]]; then
    log "nothing to stop: $dir does not exist"
    return 0
  fi
  local bin_dir
  if [[ -f "$dir/bin-dir" ]]; then bin_dir="$(cat "$dir/bin-dir")"; else bin_dir="$(find_bin_dir || true)"; fi
  if [[ -n "$bin_dir" && -f "$dir/data/postmaster.pid" ]]; then
    log "stopping PostgreSQL in $dir"
    (cd "$dir" && as_owner "$bin_dir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >&2) ||
      log "pg_ctl stop failed; see $dir/postgres.log"
  fi
  rm -rf -- "$dir"
}

start_cluster() {
  local bin_dir
  if ! bin_dir="$(find_bin_dir)"; then
    install_postgres
    bin_dir="$(find_bin_dir)" || fail "PostgreSQL was installed but initdb/pg_ctl are not in /usr/lib/postgresql/*/bin"
  fi
  log "using PostgreSQL binaries in $bin_dir ($("$bin_dir/postgres" --version))"

  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi

  # Under /tmp (not $TMPDIR) so the postgres user can always reach it.
  local dir
  dir="$(mktemp -d /tmp/lumenslate-pg.XXXXXX)"
  # Remove the half-made cluster if anything below fails.
  cleanup_dir="$dir"
  trap 'if [[ -n "$cleanup_dir" ]]; then stop_cluster "$cleanup_dir"; fi' EXIT
  if [[ $EUID -eq 0 ]]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  echo "$bin_dir" >"$dir/bin-dir"
  cd "$dir" # the owner may not be able to read the caller's working dir

  as_owner "$bin_dir/initdb" -D "$dir/data" -U postgres --no-locale -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; fail "initdb failed"; }

  # Test-only durability settings: a crash loses the data, which CI never keeps anyway.
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF

  local port attempt started=""
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o "-p $port" start >&2; then
      started=1
      break
    fi
    log "start on port $port failed (attempt $attempt); last log lines:"
    tail -n 5 "$dir/postgres.log" >&2 || true
  done
  [[ -n "$started" ]] || fail "PostgreSQL did not start; see $dir/postgres.log"

  local password user=lumenslate db=lumenslate_test
  password="$(random_hex)"
  as_owner "$bin_dir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres >&2 <<SQL
CREATE ROLE $user LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE $db OWNER $user;
SQL
  cleanup_dir=""

  log "PostgreSQL listening on 127.0.0.1:$port (data in $dir)"
  echo "export DATABASE_URL='postgres://$user:$password@127.0.0.1:$port/$db'"
  echo "export LUMENSLATE_PG_DIR='$dir'"
}

case "${1:-start}" in
  start) start_cluster ;;
  stop) stop_cluster "${2:-}" ;;
  *) fail "usage: $0 [start|stop [DIR]]" ;;
esac
