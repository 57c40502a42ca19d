#!/usr/bin/env bash
# `make bench`: release builds, the stack, seeded data, every measurement, then BENCHMARKS.md.
# Load comes from wrk (installed from Debian's packages if absent) against 127.0.0.1 only, for
# bounded durations; figures are medians of several runs. Runs under the Makefile's environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/.local/bench"
rm -rf "$out" && mkdir -p "$out"
started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }
DURATION=${BENCH_DURATION:-10}   # seconds per wrk run
RUNS=${BENCH_RUNS:-3}            # wrk runs per scenario (the median is reported)
CONNECTIONS=16
port=${BENCH_PORT:-8100}
base="http://127.0.0.1:$port"

step "load tools: wrk, pgbench"
if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk (Debian package)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if ! command -v pgbench >/dev/null; then
    echo "bench: installing pgbench (Debian package postgresql-contrib)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq postgresql-contrib >/dev/null; else sudo apt-get install -y -qq postgresql-contrib >/dev/null; fi
fi

# The bench's own bucket and queues: a `make run` server polling writers-jobs would otherwise take
# (and, knowing none of these tasks, consume) the bench's jobs.
export STORAGE_ROOT=s3://writers-bench/writers
export QUEUE_URL=http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-bench-jobs
export DEAD_LETTER_QUEUE_URL=http://127.0.0.1:4566/queue/us-east-1/000000000000/writers-bench-jobs-dlq
if ss -ltn "sport = :$port" | grep -q LISTEN; then
    echo "bench: port $port is taken (an earlier bench's local-api?):" >&2
    ss -ltnp "sport = :$port" >&2 || true
    echo "bench: stop that process, or set BENCH_PORT to a free port" >&2
    exit 1
fi

step "Postgres (a fresh writers_bench database) and LocalStack"
DATABASE_URL=$(scripts/postgres.sh fresh writers_bench)
export DATABASE_URL
localstack/localstack.sh up

step "release builds: local-api, every function, the cold-start floor, the harness (first build: 10+ minutes)"
cargo build --release --locked --bins -p writers -p bench \
    -p auth -p tasks-create -p tasks-list -p tasks-get -p tasks-update -p admin -p api-docs -p file-processor -p sweeper -p migrate
bin="$root/target/release"
"$bin/migrate" up >/dev/null

step "the web app: building web/dist (local-api serves it at /)"
scripts/web.sh build

step "starting local-api (release) on $base"
# Per-request logs off (RUST_LOG=warn), as a production access log would go elsewhere.
# One writer creating thousands of tasks a second from one address: the per-user and per-address
# limits (abuse controls with tests of their own) are raised, or wrk would measure their 429s.
TASKS_PER_USER_PER_HOUR=1000000000 USER_QUOTA_BYTES=1000000000000000 LOGIN_FAILURES_PER_IP=1000000000 \
    PORT=$port RUST_LOG=warn "$bin/local-api" >"$out/local-api.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done
{ kill -0 $api 2>/dev/null && curl -fsS "$base/health" >/dev/null; } ||
    { echo "bench: local-api did not start; see $out/local-api.log" >&2; exit 1; }

# Resident memory of local-api, sampled while the load runs: the peak of each scenario (the one
# named in $out/scenario), as VmRSS and as its private part (RssAnon: heap and stacks, not the
# binary's pages, which the page cache shares).
echo idle >"$out/scenario"
( while kill -0 $api 2>/dev/null; do
      name=$(cat "$out/scenario")
      read -r rss anon < <(awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} END {print r+0, a+0}' /proc/$api/status 2>/dev/null || echo "0 0")
      peak=$(cat "$out/rss-$name" 2>/dev/null || echo "0 0")
      [ "$rss" -gt "${peak% *}" ] && echo "$rss ${peak#* }" >"$out/rss-$name" && peak="$rss ${peak#* }"
      [ "$anon" -gt "${peak#* }" ] && echo "${peak% *} $anon" >"$out/rss-$name"
      sleep 0.1
  done ) &

step "seeding: a user with 200 tasks"
email="bench-$RANDOM$RANDOM@example.com"
password="correct horse battery staple"
curl -fsS -c "$out/cookies" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"username\":\"bench_$RANDOM$RANDOM\",\"password\":\"$password\"}" \
    "$base/auth/register" >"$out/user.json"
user_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"]["id"])' "$out/user.json")
cookie="access_token=$(awk '$6 == "access_token" {print $7}' "$out/cookies")"
psql "$DATABASE_URL" -qc "insert into tasks (title, user_id, created_at) select 'Task ' || g, '$user_id', now() - g * interval '1 second' from generate_series(1, 200) g"
task_id=$(psql "$DATABASE_URL" -Atc "select id from tasks where user_id = '$user_id' limit 1")
boundary=bench-boundary-7MA4YWxkTrZu0gW
printf -- '--%s\r\nContent-Disposition: form-data; name="title"\r\n\r\nA chapter\r\n--%s--\r\n' "$boundary" "$boundary" >"$out/no-file.body"
python3 - "$out/with-file.body" "$boundary" <<'PY'
import sys
path, boundary = sys.argv[1], sys.argv[2]
text = (b"It was a bright cold day in April, and the clocks were striking thirteen.\n" * 1500)[:100 * 1024]
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nA chapter\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chapter.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n").encode() + text + f"\r\n--{boundary}--\r\n".encode()
open(path, "wb").write(body)
PY
printf '{"email":"%s","password":"%s"}' "$email" "$password" >"$out/login.body"

step "pipeline latency (before the load below queues thousands of jobs): 20 uploads of 10 KiB, 202 to completed"
"$bin/bench" pipeline "$base" 20 >"$out/pipeline.json"

step "the web app: the first page's script, navigation to the board drawn, Lighthouse (offline)"
if ! command -v chromium >/dev/null; then
    echo "bench: installing Debian's chromium" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq chromium >/dev/null; else sudo apt-get install -y -qq chromium >/dev/null; fi
fi
if [ ! -d tools/web-bench/node_modules/lighthouse ]; then
    echo "bench: installing Lighthouse and playwright-core (pinned in tools/web-bench/package-lock.json)" >&2
    (cd tools/web-bench && npm ci --no-audit --no-fund --loglevel=error)
fi
node tools/web-bench/web.mjs "$base" web/dist "$email" "$password" >"$out/web.json"

# CPU time (clock ticks) of local-api, of Postgres (every backend; the postmaster's reaped children
# count the ones that exited), of LocalStack, and of the machine.
ticks() {
    local ls_pid; ls_pid=$(cat .local/localstack.pid 2>/dev/null || echo 0)
    printf '%s %s %s %s\n' \
        "$(awk '{print $14 + $15}' /proc/$api/stat)" \
        "$(cat $(pgrep -x postgres | sed 's|.*|/proc/&/stat|') 2>/dev/null | awk '{s += $14 + $15 + $16 + $17} END {print s + 0}')" \
        "$(awk '{print $14 + $15}' /proc/$ls_pid/stat 2>/dev/null || echo 0)" \
        "$(awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)"
}
# scenario NAME METHOD PATH [BODY_FILE CONTENT_TYPE COOKIE]
scenario() {
    local name=$1 method=$2 path=$3 body=${4:-} type=${5:-} cookie=${6:-}
    echo "$name" >"$out/scenario"
    local before; before=$(ticks)
    for run in $(seq "$RUNS"); do
        WRK_METHOD=$method WRK_BODY_FILE=$body WRK_CONTENT_TYPE=$type WRK_COOKIE=$cookie \
            wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency -s tools/bench/request.lua "$base$path" \
            >"$out/wrk-$name-$run.txt"
    done
    echo "$before $(ticks)" >"$out/cpu-$name"
    echo idle >"$out/scenario"
}
# The bound: Postgres alone running exactly the statements the handlers send (the same
# builders, the bench user's values), from as many clients as local-api's pool has connections.
step "the bound: the handlers' own statements under pgbench, $DB_MAX_CONNECTIONS clients, $RUNS runs x ${DURATION}s"
"$bin/bench" pgbench-scripts "$out/pgbench" "$user_id" "$task_id" >"$out/pgbench-scripts.json"
for name in list get create; do
    before=$(ticks)
    for run in $(seq "$RUNS"); do
        pgbench -n -M prepared -c "$DB_MAX_CONNECTIONS" -j 2 -T "$DURATION" -f "$out/pgbench/$name.sql" "$DATABASE_URL" \
            >"$out/pgbench-$name-$run.txt" 2>&1 ||
            { echo "bench: pgbench failed on $name; see $out/pgbench-$name-$run.txt" >&2; exit 1; }
    done
    echo "$before $(ticks)" >"$out/cpu-pgbench-$name"
done

step "round trips to Postgres per request, counted on the wire (a second local-api behind tools/bench/wirecount.py)"
wire_port=$((port + 2)) wire_control=$((port + 3)) counted_port=$((port + 1))
python3 tools/bench/wirecount.py --listen "127.0.0.1:$wire_port" --upstream 127.0.0.1:5432 \
    --control "127.0.0.1:$wire_control" 2>"$out/wirecount.log" &
wire=$!
for _ in $(seq 50); do ss -ltn "sport = :$wire_port" | grep -q LISTEN && break; sleep 0.1; done
# The same database through the proxy; no sweeper runs during the count (its work is not a request's).
counted_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); user = p.username or "postgres"; print(p._replace(netloc=user + "@127.0.0.1:" + sys.argv[2]).geturl())' "$DATABASE_URL" "$wire_port")
DATABASE_URL=$counted_url SWEEP_INTERVAL_SECS=86400 TASKS_PER_USER_PER_HOUR=1000000000 \
    PORT=$counted_port RUST_LOG=warn "$bin/local-api" >"$out/local-api-counted.log" 2>&1 &
counted=$!
trap 'kill $api $counted $wire 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$counted_port/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/bench" round-trips "http://127.0.0.1:$counted_port" "127.0.0.1:$wire_control" "$cookie" "$task_id" >"$out/round-trips.json"
kill $counted $wire 2>/dev/null || true
trap 'kill $api 2>/dev/null || true' EXIT

step "throughput and latency: 5 scenarios x $RUNS runs x ${DURATION}s, $CONNECTIONS connections"
scenario list GET "/api/v1/tasks?limit=50" "" "" "$cookie"
scenario get GET "/api/v1/tasks/$task_id" "" "" "$cookie"
scenario create POST "/api/v1/tasks" "$out/no-file.body" "multipart/form-data; boundary=$boundary" "$cookie"
scenario upload POST "/api/v1/tasks" "$out/with-file.body" "multipart/form-data; boundary=$boundary" "$cookie"
# Before login: the backlog would otherwise compete with the hashing for the two cores.
step "waiting for the uploads' jobs to drain (the in-process processor works through them)"
drained=$SECONDS report=0
while :; do
    left=$(psql "$DATABASE_URL" -Atc "select count(*) from tasks where status in ('PENDING', 'IN_PROGRESS') and file_path is not null")
    [ "$left" = 0 ] && break
    waited=$((SECONDS - drained))
    if [ "$waited" -ge "$report" ]; then
        report=$((report + 15))
        echo "bench: $left uploads not yet processed after ${waited}s; jobs queue: $("$bin/bench" queue 2>&1)" >&2
    fi
    if [ "$waited" -gt 600 ]; then
        echo "bench: uploads still unprocessed after 600 s; the end of $out/local-api.log:" >&2
        tail -n 20 "$out/local-api.log" >&2
        exit 1
    fi
    kill -0 $api 2>/dev/null || { echo "bench: local-api exited; see $out/local-api.log" >&2; exit 1; }
    sleep 1
done
echo "$((SECONDS - drained))" >"$out/drain-secs"
psql "$DATABASE_URL" -Atc "select count(*) from tasks where file_path is not null" >"$out/uploads"
step "throughput and latency: login, $RUNS runs x ${DURATION}s"
scenario login POST "/auth/login" "$out/login.body" "application/json" ""
awk '/^VmHWM:/ {print $2}' /proc/$api/status >"$out/hwm-kib"

step "bounds: one argon2id hash (and one per core at once); LocalStack's PutObject rate for 100 KiB"
"$bin/bench" hash >"$out/hash.json"
"$bin/bench" put-rate "$DURATION" >"$out/put-rate.json"

step "scaling with data: 100 and 100,000 tasks, with EXPLAIN"
"$bin/bench" scaling "$base" >"$out/scaling.json"

step "cold starts: every function binary and the floor, 11 starts each, then 2,000 invocations of each reader"
"$bin/bench" cold-start "$bin" "$base" >"$out/cold-start.json"

step "processing: 1, 64 and 256 MiB against a plain streamed GET; the analyzer alone"
"$bin/bench" process "$bin" >"$out/process.json"
"$bin/bench" analyze >"$out/analyze.json"

step "writing BENCHMARKS.md"
python3 tools/bench/report.py "$out" "$bin" >BENCHMARKS.md
printf '\nmake bench: done in %ss; see BENCHMARKS.md\n' "$((SECONDS - started))"
