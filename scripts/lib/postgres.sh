# Starts a private, throwaway PostgreSQL cluster on a free loopback port for the tests.
# Source this file, then call start_postgres; it exports ASSAY_TEST_POSTGRES_URL.
# Installs PostgreSQL from Debian packages when it is missing and we are root.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

assay_pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    # The two server programs used below (both in postgresql-N; the client packages have neither).
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

start_postgres() {
  if [ -n "${ASSAY_TEST_POSTGRES_URL:-}" ]; then
    echo "postgres: using ASSAY_TEST_POSTGRES_URL from the environment"
    return 0
  fi
  local bindir
  if ! bindir=$(assay_pg_bindir); then
    apt_install postgres postgresql || return 1
    bindir=$(assay_pg_bindir) || { echo "postgres: installed, but no initdb and pg_ctl under /usr/lib/postgresql" >&2; return 1; }
  fi
  ASSAY_PG_DIR=$(mktemp -d /tmp/assay-pg.XXXXXX)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the cluster as the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$ASSAY_PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$ASSAY_PG_DIR/data" -U assay --auth=trust -E UTF8 >"$ASSAY_PG_DIR/initdb.log" 2>&1 \
    || { cat "$ASSAY_PG_DIR/initdb.log" >&2; return 1; }
  "${run[@]}" "$bindir/pg_ctl" -D "$ASSAY_PG_DIR/data" -l "$ASSAY_PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $ASSAY_PG_DIR -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$ASSAY_PG_DIR/server.log" >&2; return 1; }
  ASSAY_PG_BINDIR=$bindir
  ASSAY_PG_RUN=("${run[@]}")
  export ASSAY_TEST_POSTGRES_URL="postgres://assay@127.0.0.1:$port/postgres"
  echo "postgres: started on 127.0.0.1:$port"
}

stop_postgres() {
  if [ -n "${ASSAY_PG_DIR:-}" ] && [ -d "$ASSAY_PG_DIR/data" ]; then
    "${ASSAY_PG_RUN[@]}" "$ASSAY_PG_BINDIR/pg_ctl" -D "$ASSAY_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$ASSAY_PG_DIR"
  fi
}
