#!/usr/bin/env bash
# Postgres for `make run` and `make test`.
#   postgres.sh up          print a reachable DATABASE_URL (to stdout) whose database exists
#   postgres.sh fresh NAME  the same for a database NAME dropped and created anew (tests)
#   postgres.sh down  stop the throwaway cluster, if this script started one
#   postgres.sh app-url URL  URL's database as the application role (APP_DATABASE_USER/PASSWORD)
# DATABASE_URL is used when it is set and reachable (CI machines and most laptops run Postgres
# on 127.0.0.1:5432). Otherwise a throwaway cluster is started from the machine's PostgreSQL
# binaries in .local/pg on port 54329, installing them from the OS packages when absent.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.local"
data="$state/pg"
port=54329
default_url="postgres://postgres@127.0.0.1:5432/writers"

say() { echo "postgres: $*" >&2; }

# Both the URL's own database and the server behind it.
reachable() { pg_isready -q -d "$1" -t 2 2>/dev/null; }

ensure_database() {
    local url=$1 name admin
    name=${url##*/}
    name=${name%%\?*}
    admin="${url%/*}/postgres"
    if ! psql "$admin" -tAc "select 1 from pg_database where datname = '$name'" 2>/dev/null | grep -q 1; then
        say "creating database $name"
        psql "$admin" -qc "create database \"$name\"" >&2
    fi
}

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ]; then
        say "no PostgreSQL binaries found; installing the OS package (apt-get install postgresql)"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$dir"
}

# initdb and postgres refuse to run as root: run them as the `postgres` user then.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_throwaway() {
    local bin
    bin=$(bin_dir)
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data" "$state"
    if [ ! -f "$data/PG_VERSION" ]; then
        say "initialising a throwaway cluster in .local/pg"
        as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if ss -ltn "sport = :$port" | grep -q LISTEN; then
            say "port $port is taken by another process; stop it or set DATABASE_URL to a reachable Postgres"
            exit 1
        fi
        say "starting the throwaway cluster on 127.0.0.1:$port (log: .local/pg.log)"
        touch "$state/pg.log" && { [ "$(id -u)" != 0 ] || chown postgres "$state/pg.log"; }
        as_owner "$bin/pg_ctl" -D "$data" -l "$state/pg.log" -w -t 30 \
            -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    fi
}

up() {
    local url=${DATABASE_URL:-$default_url}
    if reachable "${url%/*}/postgres"; then
        ensure_database "$url"
        echo "$url"
        return
    fi
    say "no Postgres answers at ${url%%@*}@…${url##*@}; using a throwaway cluster instead"
    start_throwaway
    url="postgres://postgres@127.0.0.1:$port/writers"
    ensure_database "$url"
    echo "$url"
}

fresh() {
    local url name=$1
    url=$(up)
    url="${url%/*}/$name"
    say "recreating database $name"
    psql "${url%/*}/postgres" -qc "drop database if exists \"$name\" with (force)" >&2
    psql "${url%/*}/postgres" -qc "create database \"$name\"" >&2
    echo "$url"
}

down() {
    if [ -f "$data/postmaster.pid" ]; then
        say "stopping the throwaway cluster"
        as_owner "$(bin_dir)/pg_ctl" -D "$data" -m fast stop >/dev/null || true
    fi
}

case "${1:-}" in
    up) up ;;
    fresh) fresh "${2:?usage: $0 fresh NAME}" ;;
    down) down ;;
    # The same database as the application role (db::roles), which `migrate up` creates.
    app-url)
        url=${2:?usage: $0 app-url OWNER_URL}
        rest=${url#*://}
        rest=${rest#*@}
        echo "postgres://${APP_DATABASE_USER:?}:${APP_DATABASE_PASSWORD:?}@$rest"
        ;;
    *) echo "usage: $0 up|fresh NAME|down" >&2; exit 2 ;;
esac
