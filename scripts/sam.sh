#!/usr/bin/env bash
# The pinned AWS SAM CLI (tools/sam.txt, with cargo-lambda and zig beside it): `scripts/sam.sh ARGS…`
# runs `sam ARGS…` on template.yaml, offline, with telemetry off.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/scripts/venv.sh" sam "$root/tools/sam.txt")
cd "$root"
# cargo-lambda (and the zig it drives) from the same environment, for `sam build`.
export PATH="$bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}"
exec "$bin/sam" "$@"
