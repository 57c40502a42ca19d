#!/usr/bin/env bash
# `make test`: every check CI makes, from a clean clone; it starts what it needs and says so.
# Runs under the Makefile's environment (LocalStack endpoint, STORAGE_ROOT, SQLX_OFFLINE=true, …).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all --check || { echo "make test: formatting differs; run 'cargo fmt --all'" >&2; exit 1; }

step "Postgres (a fresh writers_test database; yours is left alone)"
# Recreated every run: a database migrated by other code (another branch, a newer checkout)
# must never decide whether the tests pass. Test cases get their own databases besides.
DATABASE_URL=$(scripts/postgres.sh fresh writers_test)
export DATABASE_URL

step "LocalStack (S3, SQS, Secrets Manager)"
localstack/localstack.sh up

sqlx_version=0.9.0
if ! cargo sqlx --version 2>/dev/null | grep -q "$sqlx_version"; then
    step "installing sqlx-cli $sqlx_version (first run only: a few minutes)"
    cargo install sqlx-cli --version "$sqlx_version" --locked --no-default-features --features postgres,rustls
fi

step "building the workspace and migrating writers_test (first build: several minutes)"
cargo run --quiet -p migrate -- up

step "offline query data in .sqlx/ matches the queries and the schema (cargo sqlx prepare --check)"
SQLX_OFFLINE=false cargo sqlx prepare --workspace --check -- --all-targets

step "lints (cargo clippy -D warnings)"
cargo clippy --quiet --workspace --all-targets -- -D warnings

step "the web app: its API client matches openapi.json, TypeScript, unit tests (Vitest)"
scripts/web.sh check

step "template.yaml (cfn-lint, then sam validate --lint)"
scripts/cfn-lint.sh
scripts/sam.sh validate --lint

step "tests against Postgres and LocalStack"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast --status-level fail --final-status-level fail
else
    cargo test --workspace --no-fail-fast
fi

# After the tests, not before: they have built every binary the soak needs (its build is then a
# no-op), the precise failures of a test come first, and the soak's timing (a 10 s visibility
# timeout, 20 s upload URLs) does not share the 2 cores with tests running in parallel. It starts
# a stack of its own, so the shared Postgres and LocalStack above are not involved.
step "the short soak: users and faults against a stack of its own, then its invariants (under 4 minutes)"
scripts/soak.sh --short

step "the web app end to end: a writer and an administrator in headless Chromium (about 2 minutes)"
scripts/web-e2e.sh

step "openapi.json is a valid OpenAPI document (openapi-spec-validator, pinned)"
validator=$(scripts/venv.sh openapi-spec-validator tools/openapi-spec-validator.txt)
"$validator/openapi-spec-validator" openapi.json

step "the API from outside: /docs in headless Chromium, then Schemathesis over every operation (about 20 minutes)"
scripts/api-checks.sh

printf '\nmake test: every check passed in %ss\n' "$((SECONDS - started))"
