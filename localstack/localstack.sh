#!/usr/bin/env bash
# LocalStack for S3, SQS and Secrets Manager on 127.0.0.1:4566, on the host (there is no Docker engine here).
#   localstack.sh up    install on first use (pinned, into .local/), start, wait, create resources
#   localstack.sh down  stop it
# The variable set below is the one checked in ../shared/notes/localstack.md; see the comments.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.local"
venv="$state/localstack-venv"
pidfile="$state/localstack.pid"
log="$state/localstack.log"
port=4566
health="http://127.0.0.1:$port/_localstack/health"

say() { echo "localstack: $*" >&2; }

healthy() {
    local status
    status=$(curl -fsS --max-time 2 "$health" 2>/dev/null) || return 1
    for service in s3 sqs secretsmanager; do
        grep -q "\"$service\": \"\(available\|running\)\"" <<<"$status" || return 1
    done
}

install() {
    local stamp="$venv/.requirements.sha256" want
    want=$(sha256sum "$root/localstack/requirements.txt" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
    say "installing LocalStack 4.9.2 into .local/localstack-venv (first run: about a minute)"
    mkdir -p "$state"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/localstack/requirements.txt"
    echo "$want" >"$stamp"
}

up() {
    install
    if healthy; then
        say "already running on 127.0.0.1:$port"
    else
        if ss -ltn "sport = :$port" | grep -q LISTEN; then
            say "port $port is taken by something that is not a healthy LocalStack:"
            ss -ltnp "sport = :$port" >&2 || true
            say "stop that process (or run 'make stop'), then try again"
            exit 1
        fi
        mkdir -p "$state/localstack-data"
        say "starting on 127.0.0.1:$port (log: .local/localstack.log)"
        # OVERRIDE_IN_DOCKER=0: this machine has /.dockerenv; without it FILESYSTEM_ROOT is ignored.
        # LOCALSTACK_HOST + SQS_ENDPOINT_STRATEGY=path: queue URLs on 127.0.0.1, not an unresolvable host.
        # S3_SKIP_SIGNATURE_VALIDATION=0: presigned URLs are checked as on AWS.
        # EAGER_SERVICE_LOADING=1: every service ready before we report ready, not on the first call.
        env GATEWAY_LISTEN="127.0.0.1:$port" SERVICES=s3,sqs,secretsmanager,ses LOCALSTACK_CLI=0 PERSISTENCE=0 \
            SQS_ENDPOINT_STRATEGY=path LOCALSTACK_HOST="127.0.0.1:$port" \
            OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$state/localstack-data" \
            S3_SKIP_SIGNATURE_VALIDATION=0 EAGER_SERVICE_LOADING=1 \
            setsid "$venv/bin/python" -m localstack.runtime.main >"$log" 2>&1 </dev/null &
        echo $! >"$pidfile"
        say "waiting for S3, SQS and Secrets Manager to be ready"
        for _ in $(seq 1 120); do
            if healthy; then break; fi
            if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
                say "LocalStack exited during start-up; the end of .local/localstack.log:"
                tail -n 20 "$log" >&2
                exit 1
            fi
            sleep 0.5
        done
        healthy || { say "not ready after 60 s; see .local/localstack.log"; exit 1; }
    fi
    "$venv/bin/python" "$root/localstack/init.py"
}

down() {
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "stopping"
        kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || kill -TERM "$(cat "$pidfile")"
        for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
