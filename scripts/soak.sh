#!/usr/bin/env bash
# `make soak`: many users and scheduled faults against a stack of the soak's own, then every
# invariant checked (docs/soak.md).
#   scripts/soak.sh          SOAK_MINUTES (5) of load; writes docs/SOAK.md
#   scripts/soak.sh --short  about 90 s of load, under 4 minutes in all (a step of `make test`)
# The stack is the soak's alone: a Postgres cluster initdb'd under .local/soak, a LocalStack and a
# local-api, each on a free port. Only the processes started here are ever signalled: never the
# machine's Postgres on 5432, never a LocalStack on 4566 (CI and other checkouts use them).
set -euo pipefail
# The whole script is one block, read before any of it runs: editing or checking out this file
# during a run (it lasts minutes) cannot make bash resume at a shifted offset.
{
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state="$root/.local/soak"
venv="$root/.local/localstack-venv"

short=0
case "${1:-}" in
    --short) short=1 ;;
    "") ;;
    *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac

say() { echo "soak: (${SECONDS}s) $*" >&2; }

# One soak per checkout: they share .local/soak.
mkdir -p "$root/.local"
exec 9>"$root/.local/soak.lock"
flock -n 9 || { say "another soak is running in this checkout"; exit 1; }

target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
# Copies of the binaries, taken right after the build: the target directory is shared, and a
# build during the run must not change what the soak migrates with or restarts after a kill.
bin="$state/bin"
api_bin="$bin/local-api"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
    say "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; 'scripts/postgres.sh up' installs them"
    exit 1
fi
pgdata="$state/pg"
# initdb and postgres refuse to run as root: run them as the `postgres` user then.
pg_user=""
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    pg_user=postgres
fi
as_owner() { if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
# The cluster lives in .local/soak, unless that user cannot reach this checkout (a clone under a
# private directory, such as one `mktemp -d` made): then in a directory of its own under /tmp,
# removed at the end (its log is copied to .local/soak/pg.log first).
pg_home="$state"
pg_log="$state/pg.log"
pg_home_elsewhere=""
if [ -n "$pg_user" ] && ! runuser -u "$pg_user" -- test -x "$root"; then
    pg_home_elsewhere=yes
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

ls_pid=""
# Ends what this script (and the soak binary, through its pid file) started, and nothing else.
cleanup() {
    local status=$? pid exe
    trap - EXIT INT TERM
    if [ -f "$state/local-api.pid" ]; then
        pid=$(cat "$state/local-api.pid")
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
        case "$exe" in
            "$api_bin" | "$api_bin (deleted)") kill -KILL "$pid" 2>/dev/null && say "stopped local-api ($pid)" ;;
        esac
        rm -f "$state/local-api.pid"
    fi
    if [ -n "$ls_pid" ] && kill -0 "$ls_pid" 2>/dev/null; then
        say "stopping LocalStack ($ls_pid)"
        # Resumed first, in case the soak was interrupted while it was paused.
        kill -CONT -- "-$ls_pid" 2>/dev/null || true
        kill -TERM -- "-$ls_pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$ls_pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$ls_pid" 2>/dev/null || true
    fi
    if [ -f "$pgdata/postmaster.pid" ]; then
        say "stopping the soak's Postgres cluster"
        as_owner "$pg_bin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
    fi
    if [ "$pg_home" != "$state" ]; then
        cp "$pg_log" "$state/pg.log" 2>/dev/null || true
        rm -rf "$pg_home"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What a run killed hard may have left: only this checkout's soak cluster and soak LocalStack.
old_home=$(cat "$state/pg-home" 2>/dev/null || echo "$state")
if [ -f "$old_home/pg/postmaster.pid" ]; then
    say "stopping a soak cluster left running in $old_home/pg"
    as_owner "$pg_bin/pg_ctl" -D "$old_home/pg" -m fast stop >/dev/null 2>&1 || true
fi
case "$old_home" in "$state") ;; */writers-soak-pg.*) rm -rf "$old_home" ;; esac
if [ -f "$state/localstack.pid" ]; then
    old=$(cat "$state/localstack.pid")
    if [ -r "/proc/$old/environ" ] &&
        tr '\0' '\n' <"/proc/$old/environ" | grep -qxF "FILESYSTEM_ROOT=$state/localstack-data"; then
        say "stopping a soak LocalStack left running ($old)"
        kill -CONT -- "-$old" 2>/dev/null || true
        kill -TERM -- "-$old" 2>/dev/null || true
        sleep 3
        kill -KILL -- "-$old" 2>/dev/null || true
    fi
fi
rm -rf "$state"
mkdir -p "$state/localstack-data"
if [ -n "$pg_home_elsewhere" ]; then
    pg_home=$(mktemp -d "${TMPDIR:-/tmp}/writers-soak-pg.XXXXXX")
    pg_log="$pg_home/pg.log"
    say "the postgres user cannot reach $root (a private parent directory): the cluster goes in $pg_home"
fi
echo "$pg_home" >"$state/pg-home"
pgdata="$pg_home/pg"
pg_run="$pg_home/run"
mkdir -p "$pg_run"

say "building soak, migrate and local-api (SQLX_OFFLINE; a no-op when they are fresh)"
SQLX_OFFLINE=true cargo build --quiet -p soak -p migrate -p writers --bin soak --bin migrate --bin local-api
mkdir -p "$bin"
# Hard links, not copies (a copy of each debug binary cost CI's disk its last free space): cargo
# and the linker replace a binary with a new file rather than rewriting it, so a later build
# leaves these links on the files built here. A copy only where a link cannot be made.
for name in soak migrate local-api; do
    ln -f "$target/debug/$name" "$bin/$name" 2>/dev/null || cp -f "$target/debug/$name" "$bin/$name"
done

# LocalStack from the project's pinned virtual environment (the install localstack.sh makes).
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/localstack/requirements.txt" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing LocalStack 4.9.2 into .local/localstack-venv (first run: about a minute)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/localstack/requirements.txt"
    echo "$want" >"$stamp"
fi

pg_port=$(free_port)
ls_port=$(free_port)
api_port=$(free_port)

say "starting Postgres on 127.0.0.1:$pg_port (a fresh cluster in $pgdata; log $pg_log)"
mkdir -p "$pgdata"
touch "$pg_log"
[ -z "$pg_user" ] || chown "$pg_user" "$pg_home" "$pgdata" "$pg_run" "$pg_log"
as_owner "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >/dev/null
as_owner "$pg_bin/pg_ctl" -D "$pgdata" -l "$pg_log" -w -t 30 \
    -o "-p $pg_port -k $pg_run -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
psql "postgres://postgres@127.0.0.1:$pg_port/postgres" -qc "create database writers"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/writers"

say "starting LocalStack on 127.0.0.1:$ls_port (log .local/soak/localstack.log)"
# localstack.sh's variables (../shared/notes/localstack.md) on the soak's own port and data
# directory; DNS_ADDRESS=0: no DNS server, which a second LocalStack on the machine would fight
# the first for.
env GATEWAY_LISTEN="127.0.0.1:$ls_port" SERVICES=s3,sqs,ses LOCALSTACK_CLI=0 PERSISTENCE=0 \
    SQS_ENDPOINT_STRATEGY=path LOCALSTACK_HOST="127.0.0.1:$ls_port" \
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$state/localstack-data" \
    S3_SKIP_SIGNATURE_VALIDATION=0 EAGER_SERVICE_LOADING=1 DNS_ADDRESS=0 \
    setsid "$venv/bin/python" -m localstack.runtime.main >"$state/localstack.log" 2>&1 </dev/null &
ls_pid=$!
echo "$ls_pid" >"$state/localstack.pid"
healthy() {
    local status
    status=$(curl -fsS --max-time 2 "http://127.0.0.1:$ls_port/_localstack/health" 2>/dev/null) || return 1
    for service in s3 sqs; do
        grep -q "\"$service\": \"\(available\|running\)\"" <<<"$status" || return 1
    done
}
for _ in $(seq 1 120); do
    healthy && break
    kill -0 "$ls_pid" 2>/dev/null || { say "LocalStack exited during start-up:"; tail -n 20 "$state/localstack.log" >&2; exit 1; }
    sleep 0.5
done
healthy || { say "LocalStack not ready after 60 s; see .local/soak/localstack.log"; exit 1; }

# The product's settings, short so that a soak ends in minutes (docs/soak.md); set explicitly,
# never inherited from the Makefile's environment, which names the shared 4566 LocalStack.
unset DATABASE_SECRET_ARN JWT_SECRET_ARN JWT_SECRET_PREVIOUS AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS \
    AWS_PROFILE ALLOWED_ORIGINS ACCESS_TOKEN_TTL_SECS REFRESH_TOKEN_TTL_SECS MAX_UPLOAD_BYTES \
    MAX_DIRECT_UPLOAD_BYTES USER_QUOTA_BYTES SESSION_MAX_LIFETIME_SECS REFRESH_REUSE_GRACE_SECS
export AWS_ENDPOINT_URL="http://127.0.0.1:$ls_port" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export STORAGE_ROOT=s3://writers-soak/soak
export QUEUE_URL="http://127.0.0.1:$ls_port/queue/us-east-1/000000000000/writers-soak-jobs"
export DEAD_LETTER_QUEUE_URL="$QUEUE_URL-dlq"
export JWT_SECRET=soak-only-secret-never-use-anywhere-else-0123456789abcdef
export COOKIE_SECURE=false PORT="$api_port" DB_MAX_CONNECTIONS=10 RUST_LOG=info
export UPLOAD_URL_TTL_SECS=20 UPLOAD_GRACE_SECS=10 SWEEP_INTERVAL_SECS=2 UNFINISHED_UPLOAD_SECS=15
export JOB_VISIBILITY_TIMEOUT_SECS=10 JOB_MAX_RECEIVES=3
# Every user comes from 127.0.0.1: the per-address limits would stop the soak, not an attacker.
# The per-email lockout (10 failures in 15 minutes) is not a setting, and stays.
export LOGIN_FAILURES_PER_IP=100000 REGISTRATIONS_PER_IP_PER_HOUR=100000 TASKS_PER_USER_PER_HOUR=100000

say "creating the bucket and queues (localstack/init.py), then the soak's visibility timeout and redrive count"
JOBS_VISIBILITY_TIMEOUT_SECS=$JOB_VISIBILITY_TIMEOUT_SECS "$venv/bin/python" "$root/localstack/init.py"
"$bin/soak" setup

say "migrating the soak's database"
# As `make run` does: `migrate up` (as the owner) maintains the application's role, and local-api
# connects as that role; the harness reads every table as the owner (SOAK_ADMIN_DATABASE_URL).
export APP_DATABASE_USER=writers_app APP_DATABASE_PASSWORD=soak-only-app-password
unset APP_DATABASE_SECRET_ARN
"$bin/migrate" up >&2
export SOAK_ADMIN_DATABASE_URL="$DATABASE_URL"
if psql "$DATABASE_URL" -tAc "select 1 from pg_roles where rolname = '$APP_DATABASE_USER'" | grep -q 1; then
    export DATABASE_URL="postgres://$APP_DATABASE_USER:$APP_DATABASE_PASSWORD@127.0.0.1:$pg_port/writers"
    say "local-api connects as the application role $APP_DATABASE_USER"
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with uncommitted changes"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
export SOAK_MACHINE="$(nproc) cores (${cpu:-unknown CPU}), $memory memory, Linux $(uname -r)"
export SOAK_COMMIT="$commit"
export SOAK_API_URL="http://127.0.0.1:$api_port"
export SOAK_LOCAL_API_BIN="$api_bin" SOAK_LOCAL_API_LOG="$state/local-api.log" SOAK_LOCAL_API_PIDFILE="$state/local-api.pid"
export SOAK_LOCALSTACK_PID="$ls_pid"
export SOAK_PG_CTL="$pg_bin/pg_ctl" SOAK_PG_DATA="$pgdata" SOAK_PG_LOG="$pg_log" SOAK_PG_USER="$pg_user"
export SOAK_FIXTURES="$root/tests/fixtures"
if [ "$short" = 1 ]; then
    export SOAK_SHORT=1 SOAK_SECONDS=90 SOAK_REPORT="$state/SOAK-short.md"
else
    export SOAK_SHORT=0 SOAK_MINUTES="${SOAK_MINUTES:-5}" SOAK_REPORT="$root/docs/SOAK.md"
fi

say "starting local-api on 127.0.0.1:$api_port (log .local/soak/local-api.log), then the load; the soak's own times count from its start"
status=0
"$bin/soak" run || status=$?
if [ "$status" = 0 ]; then
    say "passed (logs in .local/soak/)"
else
    say "FAILED with status $status (logs in .local/soak/: local-api.log, pg.log, localstack.log)"
fi
exit "$status"
}
