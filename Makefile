# Writers: the two set-up commands are `make run` and `make test`; everything else is a step of them.
# Both start what they need (Postgres, LocalStack), are idempotent, and work from a clean clone.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

# Local configuration: docs/configuration.md says what each variable means and who sets it in AWS.
# DATABASE_URL is resolved by scripts/postgres.sh (yours if reachable, else a throwaway cluster).
export STORAGE_ROOT ?= s3://writers-local/writers
export QUEUE_URL ?= http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-jobs
export DEAD_LETTER_QUEUE_URL ?= http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-jobs-dlq
export JWT_SECRET ?= local-development-only-secret-never-use-in-production-0123456789
# Reset emails: the sender LocalStack's SES verifies (localstack/init.py), and the origin of the
# web app whose /reset page the links open.
export MAIL_FROM ?= writers@example.com
export APP_URL ?= http://127.0.0.1:$(or $(PORT),8000)
# The application's own database role, which `migrate up` creates; local-api and the tests
# connect as it (in AWS its password is a generated secret; docs/deployment.md).
export APP_DATABASE_USER ?= writers_app
export APP_DATABASE_PASSWORD ?= local-development-only-app-password
export DB_MAX_CONNECTIONS ?= 10
export PORT ?= 8000
export RUST_LOG ?= info,writers=debug,sqlx::postgres::notice=warn
# LocalStack: the AWS SDK reads these itself; S3 switches to path-style when an endpoint is set.
export AWS_ENDPOINT_URL ?= http://127.0.0.1:4566
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_REGION ?= us-east-1
# Builds and lints read the committed query data in .sqlx/, not a live database.
export SQLX_OFFLINE := true
export CARGO_TERM_COLOR ?= always

.PHONY: help run test check stop db localstack migrate lint-template package deploy bench sqlx-prepare openapi fuzz soak

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: ## set everything up and serve the web app and the API on 127.0.0.1:$(PORT)
	@echo "make run: starting Postgres and LocalStack, migrating, building the web app and local-api (the first build takes several minutes)"
	export DATABASE_URL=$$(scripts/postgres.sh up)
	localstack/localstack.sh up
	cargo run --quiet -p migrate -- up
	scripts/web.sh build
	cargo build -p writers --bin local-api
	# Served as the application role that `migrate up` just granted (no DDL), as in AWS.
	export DATABASE_URL=$$(scripts/postgres.sh app-url "$$DATABASE_URL")
	# exec keeps this shell's pid: the pid file names local-api itself, for `make stop`.
	mkdir -p .local
	echo $$$$ > .local/local-api.pid
	exec "$${CARGO_TARGET_DIR:-target}/debug/local-api"

test: ## set everything up and run the whole test suite (what CI runs)
	@scripts/test.sh

check: ## quick checks for contributors: formatting, clippy and the tests that need no services
	@echo "make check: formatting, clippy, then the unit tests (no Postgres or LocalStack; make test runs everything)"
	cargo fmt --all --check || { echo "make check: formatting differs; run 'cargo fmt --all'" >&2; exit 1; }
	cargo clippy --quiet --workspace --all-targets -- -D warnings
	if cargo nextest --version >/dev/null 2>&1; then
	    cargo nextest run --workspace --lib --bins --status-level fail --final-status-level fail
	else
	    cargo test --workspace --lib --bins
	fi

stop: ## stop what this checkout started: its local-api, LocalStack and throwaway Postgres cluster
	@pidfile=.local/local-api.pid
	# Only the process this checkout's `make run` recorded, and only while that pid still runs this
	# checkout's own binary (a reused pid, or another checkout's server, is left alone).
	binary="$$(pwd)/$${CARGO_TARGET_DIR:-target}/debug/local-api"
	if [ -f $$pidfile ] && pid=$$(cat $$pidfile); then
	    case "$$(readlink /proc/$$pid/exe 2>/dev/null || true)" in
	        "$$binary"|"$$binary (deleted)") kill $$pid && echo "stopped local-api ($$pid)" ;;
	    esac
	fi
	rm -f $$pidfile
	localstack/localstack.sh down
	scripts/postgres.sh down

db: ## start Postgres (if needed) and print its DATABASE_URL
	@scripts/postgres.sh up

localstack: ## start LocalStack with the bucket and queues
	@localstack/localstack.sh up

migrate: ## apply every migration to the local database (ARGS="down --to base" for others)
	@export DATABASE_URL=$$(scripts/postgres.sh up)
	cargo run --quiet -p migrate -- $(or $(ARGS),up)

sqlx-prepare: ## regenerate .sqlx/ after changing a query or adding a migration
	@export DATABASE_URL=$$(scripts/postgres.sh up)
	# sqlx-cli, not our `migrate`: that binary cannot build until .sqlx/ knows the new queries.
	cargo sqlx migrate run --source migrations
	SQLX_OFFLINE=false cargo sqlx prepare --workspace -- --all-targets

fuzz: ## /docs in headless Chromium, then Schemathesis over every operation (part of make test)
	@export DATABASE_URL=$$(scripts/postgres.sh up)
	localstack/localstack.sh up
	scripts/api-checks.sh

openapi: ## write openapi.json from the route table (commit it; a test fails when it is stale)
	@cargo run --quiet -p writers --bin openapi > openapi.json
	echo "wrote openapi.json"

lint-template: ## cfn-lint and sam validate --lint on template.yaml (pinned, own virtual environments)
	@scripts/cfn-lint.sh
	scripts/sam.sh validate --lint

bench: ## release builds, then every benchmark against its target; writes BENCHMARKS.md
	@scripts/bench.sh

soak: ## SOAK_MINUTES (5) of users and faults against a stack of its own; writes docs/SOAK.md
	@scripts/soak.sh

package: ## build every function for AWS with sam build (arm64, no Docker); then see docs/deployment.md
	@scripts/package.sh

deploy: ## build, deploy the stack (guided the first time) and upload the web app (docs/deployment.md)
	@# This Makefile's LocalStack endpoint and keys are for local work: a deploy uses your own.
	[ "$(origin AWS_ENDPOINT_URL)" != file ] || unset AWS_ENDPOINT_URL
	[ "$(origin AWS_ACCESS_KEY_ID)" != file ] || unset AWS_ACCESS_KEY_ID
	[ "$(origin AWS_SECRET_ACCESS_KEY)" != file ] || unset AWS_SECRET_ACCESS_KEY
	scripts/deploy.sh
