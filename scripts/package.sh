#!/usr/bin/env bash
# `make package`: every function built for AWS by `sam build` (BuildMethod rust-cargolambda), for the
# template's default architecture, arm64, without Docker: cargo-lambda cross-compiles with zig.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "package: adding the Rust target $target (once)" >&2
    rustup target add "$target"
fi
echo "package: sam build (release builds of every function for arm64; the first takes several minutes)" >&2
# rust-cargolambda is a SAM beta feature; the queries build from .sqlx/ (SQLX_OFFLINE), no database.
SQLX_OFFLINE=true scripts/sam.sh build --beta-features
echo "package: built into .aws-sam/build; deploy with: scripts/sam.sh deploy --guided" >&2
