#!/usr/bin/env bash
# The web app in web/: its Node packages, its build, its checks.
#   scripts/web.sh install   npm ci when web/node_modules is missing or package-lock.json changed
#   scripts/web.sh build     install, then build web/dist when a source changed since the last build
#   scripts/web.sh check     install, then: the generated API types match openapi.json, tsc, Vitest
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
web="$root/web"
say() { echo "web: $*" >&2; }

need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        say "Node.js 20.19 or newer is needed for the web app (https://nodejs.org, or 'apt-get install nodejs npm')"
        exit 1
    fi
    local version
    version=$(node -p 'process.versions.node')
    if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
        say "Node.js $version is too old: Vite needs 20.19 or newer"
        exit 1
    fi
}

install() {
    need_node
    local stamp="$web/node_modules/.package-lock.sha256" want
    want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    say "installing the web app's Node packages (pinned in web/package-lock.json; first run: under a minute)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
}

# A hash of everything the build reads, so `make run` rebuilds exactly when one of them changed.
sources_hash() {
    (cd "$web" && find index.html package-lock.json tsconfig.json vite.config.ts public src -type f \
        ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

build() {
    install
    local stamp="$web/dist/.sources.sha256" want
    want=$(sources_hash)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$web/dist/index.html" ]; then
        return
    fi
    say "building the web app into web/dist (a few seconds)"
    (cd "$web" && npm run --silent build >&2)
    echo "$want" >"$stamp"
}

check() {
    install
    (cd "$web" && node scripts/check-generated.mjs && npx --no-install tsc --noEmit && TZ=Europe/London npx --no-install vitest run)
}

case "${1:-}" in
    install) install ;;
    build) build ;;
    check) check ;;
    *) echo "usage: $0 install|build|check" >&2; exit 2 ;;
esac
