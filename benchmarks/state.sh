#!/usr/bin/env bash
# Benchmark of the PostgreSQL state store: a 1,000-stage chain of `true` stages with the local
# journal (durable) and with `--state postgres://…` (each event batch one transaction that checks
# the lease epoch), interleaved in the same run. Target: PostgreSQL within 2x of local.
#
# usage: benchmarks/state.sh   (REPS=5, N=1000; PIPELINE_BIN to use a built binary; the database
#        is a fresh one on $PIPELINE_BENCH_PG_URL, default: the cluster scripts/pg-cluster starts)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
N=${N:-1000}
server=${PIPELINE_BENCH_PG_URL:-}
stop_cluster=true
if [ -z "$server" ]; then
  server=$(scripts/pg-cluster start)
  stop_cluster="env PIPELINE_TEST_PG_URL=$server scripts/pg-cluster stop"
fi
if [ -z "${PIPELINE_BIN:-}" ]; then
  swift build -c release --product pipeline --scratch-path .build-bench >&2
  PIPELINE_BIN="$(swift build -c release --show-bin-path --scratch-path .build-bench)/pipeline"
fi
db="pipeline_bench_$$"
psql -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" "$server"
url="${server%/*}/$db"
work=$(mktemp -d)
repo=$(pwd)
trap 'rm -rf "$work"; psql -q -c "DROP DATABASE IF EXISTS $db" "$server" >/dev/null 2>&1 || true; (cd "$repo" && $stop_cluster)' EXIT
python3 - "$work" "$N" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/chain.yml", "w") as f:
    f.write("version: 1\nname: chain\nstages:\n")
    for i in range(n): f.write(f'  - {{ id: s{i}, run: "true" }}\n')
PY
cd "$work"
measure() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
: > local; : > pg
for _ in $(seq "$REPS"); do
  rm -rf st; measure "$PIPELINE_BIN" run chain.yml --state-dir st >> local
  rm -rf st; measure "$PIPELINE_BIN" run chain.yml --state-dir st --state "$url" >> pg
done
l=$(median < local); p=$(median < pg)
echo "$(date -u +%Y-%m-%d) · $(nproc) cores · $N-stage chain · median of $REPS interleaved runs · $PIPELINE_BIN"
echo
echo "| state | ms | ratio to local |"
echo "|---|---:|---:|"
awk -v l="$l" 'BEGIN { printf "| local journal (durable) | %.1f | 1.00x |\n", l }'
awk -v l="$l" -v p="$p" 'BEGIN { printf "| PostgreSQL (--state) | %.1f | %.2fx |\n", p, p/l }'
