#!/usr/bin/env bash
# Report throughput and ingest speed of verdict on SQLite and on PostgreSQL (release build).
# Per backend: a fresh database, one account, ROWS tasks ingested as one NDJSON batch (rows/s),
# then REPS pairs of wrk runs: GET /healthz (the trivial-endpoint ceiling), then anti-captcha
# reports, each on a task not reported before. Ratios are report req/s over the paired /healthz.
# Needs wrk (apt-get install -y wrk), python3 and, for PostgreSQL, a running server that
# `runuser -u postgres -- psql` reaches. Not part of .ci/run: numbers are not assertions.
#   ROWS=1000000 REPS=3 DURATION=10s CONNS=64 ./bench/backends.sh [sqlite] [postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
BACKENDS=("$@")
[ ${#BACKENDS[@]} -eq 0 ] && BACKENDS=(sqlite postgres)
ADMIN=bench-admin-token-0123456789
KEY=bench0000000000000000000000000001
PORT=18181
BIN=target/release/verdict
WORK=$(mktemp -d /tmp/verdict-bench.XXXXXX)

cargo build --release --locked -p verdict

# ROWS image tasks with random-looking integer ids (a fixed permutation, as ids arrive from a
# real platform), completed now; the report run walks them in a different order.
python3 - "$WORK" "$ROWS" <<'PY'
import sys, json, datetime, random
work, rows = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
rng = random.Random(42)
ids = rng.sample(range(10**11, 10**12), rows)
with open(f"{work}/tasks.ndjson", "w") as f:
    for i in ids:
        f.write(json.dumps({"id": str(i), "account": 1, "type": "image", "provider": "prov-a",
                            "worker": "w1", "answer": "KWG90", "cost": "0.0010",
                            "completed_at": now}, separators=(",", ":")) + "\n")
rng.shuffle(ids)
with open(f"{work}/ids.txt", "w") as f:
    f.write("\n".join(map(str, ids)) + "\n")
PY

# What else used the machine: the busiest processes, sampled in the middle of a run.
busiest() { sleep "$1"; ps -eo pcpu=,comm= --sort=-pcpu | head -n 4 | awk '{printf "%s:%s%% ", $2, $1}'; }

run_backend() {
    local backend=$1 url
    case $backend in
        sqlite) url="sqlite://$WORK/bench.db" ;;
        postgres)
            runuser -u postgres -- psql -qX -c "DROP DATABASE IF EXISTS verdict_bench" \
                -c "CREATE DATABASE verdict_bench OWNER verdict"
            url="postgres://verdict:verdict@127.0.0.1:5432/verdict_bench" ;;
    esac
    VERDICT_LISTEN=127.0.0.1:$PORT VERDICT_DATABASE_URL=$url VERDICT_ADMIN_TOKEN=$ADMIN \
        VERDICT_LOG=warn "$BIN" serve 2> "$WORK/$backend.log" &
    local pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
    curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench\",\"api_key\":\"$KEY\"}" "http://127.0.0.1:$PORT/v1/accounts" > /dev/null
    local t0 t1
    t0=$(date +%s.%N)
    curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$WORK/tasks.ndjson" "http://127.0.0.1:$PORT/v1/tasks" > "$WORK/ingest.json"
    t1=$(date +%s.%N)
    python3 - "$backend" "$ROWS" "$t0" "$t1" "$WORK/ingest.json" <<'PY'
import sys, json
backend, rows, t0, t1, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
answer = json.load(open(path))
assert answer["inserted"] == rows, answer
print(f"INGEST {backend} rows={rows} seconds={t1 - t0:.2f} rows_s={rows / (t1 - t0):.0f}")
PY
    # Measure the steady state, not the aftermath of a 1M-row batch (checkpoint, autovacuum).
    if [ "$backend" = postgres ]; then
        runuser -u postgres -- psql -qX -d verdict_bench -c "VACUUM ANALYZE" -c "CHECKPOINT"
    fi
    local start=1
    for rep in $(seq 1 "$REPS"); do
        local h r sampler half=$(( ${DURATION%s} / 2 ))
        busiest "$half" > "$WORK/busy.h" & sampler=$!
        h=$(wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 5s -s bench/healthz.lua \
            "http://127.0.0.1:$PORT/healthz" | grep RESULT)
        wait "$sampler"
        busiest "$half" > "$WORK/busy.r" & sampler=$!
        r=$(KEY=$KEY IDS=$WORK/ids.txt START=$start wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 5s \
            -s bench/report.lua "http://127.0.0.1:$PORT/" | grep RESULT)
        wait "$sampler"
        # Every request takes the next id; a margin covers requests still in flight at the end.
        start=$((start + $(sed 's/.*requests=\([0-9]*\).*/\1/' <<< "$r") + CONNS + 1))
        echo "HEALTHZ $backend rep=$rep $h busiest: $(cat "$WORK/busy.h")"
        echo "REPORT  $backend rep=$rep $r ratio=$(python3 -c "import sys,re; f=lambda s: float(re.search(r'req_s=(\d+)', s).group(1)); print(f'{f(sys.argv[2])/f(sys.argv[1]):.2f}')" "$h" "$r") busiest: $(cat "$WORK/busy.r")"
    done
    kill "$pid"
    wait "$pid" || true
}

for backend in "${BACKENDS[@]}"; do
    run_backend "$backend"
done
rm -rf "$WORK"
