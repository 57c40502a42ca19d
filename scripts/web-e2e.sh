#!/usr/bin/env bash
# The web app end to end (web/e2e/run.mjs): Debian's Chromium against a local-api of its own
# (its own database and port) on real Postgres and LocalStack, serving the freshly built app.
# Runs under the Makefile's environment; screenshots land in .local/web-e2e/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

port=${WEB_E2E_PORT:-8766}
base="http://127.0.0.1:$port"
out="$root/.local/web-e2e"
mkdir -p "$out"
rm -f "$out"/*.png

# A bucket and queues of its own (localstack.sh creates them): a `make run` server polling
# writers-jobs would otherwise take, and knowing none of these tasks consume, this test's jobs.
export STORAGE_ROOT=s3://writers-web-e2e/writers
export QUEUE_URL=http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-web-e2e-jobs
export DEAD_LETTER_QUEUE_URL=http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-web-e2e-jobs-dlq
localstack/localstack.sh up >/dev/null

scripts/web.sh build
DATABASE_URL=$(scripts/postgres.sh fresh writers_web)
export DATABASE_URL
cargo run --quiet -p migrate -- up >/dev/null
cargo build --quiet -p writers --bin local-api
owner_url=$DATABASE_URL
DATABASE_URL=$(scripts/postgres.sh app-url "$DATABASE_URL")

# Reset links must open this server's /reset page.
APP_URL=$base PORT=$port RUST_LOG=warn WEB_ROOT="$root/web/dist" \
    target/debug/local-api >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null && break; sleep 0.2; done
curl -fs "$base/health" >/dev/null || { echo "web e2e: the local server did not start; see .local/web-e2e/server.log" >&2; exit 1; }

# The administrator, promoted as an operator does it.
admin_email="admin-$(date +%s)@example.com" admin_password="the administrator's long password"
curl -fs -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\": \"$admin_email\", \"username\": \"admin_$(date +%s)\", \"password\": \"$admin_password\"}" "$base/auth/register"
DATABASE_URL=$owner_url target/debug/migrate promote "$admin_email" >/dev/null

if ! command -v chromium >/dev/null; then
    echo "web e2e: installing Debian's chromium (first run only: a minute or two)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
WEB_BASE_URL="$base" SES_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}/_aws/ses" SHOTS="$out" \
    FIXTURES="$root/tests/fixtures" ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
    node web/e2e/run.mjs
