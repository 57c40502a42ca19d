#!/usr/bin/env bash
# Lints template.yaml with cfn-lint (pinned in tools/cfn-lint.txt): offline, catches bad properties.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/scripts/venv.sh" cfn-lint "$root/tools/cfn-lint.txt")
echo "cfn-lint: checking template.yaml" >&2
"$bin/cfn-lint" "$root/template.yaml"
echo "cfn-lint: template.yaml is valid" >&2
