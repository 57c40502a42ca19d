#!/usr/bin/env bash
# venv.sh NAME REQUIREMENTS: prints the bin/ of .local/NAME-venv, creating it from REQUIREMENTS
# (pinned) on first use and again whenever that file changes. Each Python tool gets its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1
requirements=$2
venv="$root/.local/$name-venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing $name (pinned in ${requirements#"$root"/}) into .local/$name-venv" >&2
    mkdir -p "$root/.local"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin"
