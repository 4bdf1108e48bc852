#!/bin/sh
# Peak resident memory of `verdict export corrections` over a SQLite database of ROWS
# corrections (default a million), in both formats: docs/corrections.md has the figures.
#   cargo build -p verdict && sh docs/bench/corrections-rss.sh [ROWS]
# VERDICT_BIN picks another binary (default target/debug/verdict, or $CARGO_TARGET_DIR's).
set -eu
rows=${1:-1000000}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${VERDICT_BIN:-${CARGO_TARGET_DIR:-$here/target}/debug/verdict}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export VERDICT_DATABASE_URL="sqlite://$dir/verdict.db" VERDICT_LOG=warn
"$bin" accounts create --name bulk >/dev/null
# The same load as crates/verdict/tests/export.rs: 2026-01-01T00:00:00Z, one report a second.
sed -e "s/{all}/$rows/g" -e "s/{rows}/$rows/g" -e "s/{t0}/1767225600000/g" \
    "$here/crates/verdict/tests/data/corrections.sql" | sqlite3 "$dir/verdict.db"
echo "$(sqlite3 "$dir/verdict.db" 'SELECT count(*) FROM reports WHERE correction IS NOT NULL') corrections"
for format in jsonl csv; do
    /usr/bin/time -f "$format: %M KiB peak RSS, %e s" "$bin" export corrections --format "$format" \
        | wc -l | sed "s/^/$format: lines written: /"
done
