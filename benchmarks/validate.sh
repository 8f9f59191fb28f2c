#!/usr/bin/env bash
# Parse/validate benchmark (issue "pipeline validate speed").
#
# For pipelines of 100, 1,000 and 10,000 stages (benchmarks/gen.py), times
# `pipeline validate FILE` against a raw libyaml event scan of the same file
# (benchmarks/scan.c), whole processes both, in the same run, with the runs interleaved;
# `pipeline --version` is timed with them, as the share of process start-up.
# Prints a markdown table for benchmarks/RESULTS.md.
#
# Targets (issue 15): 10,000 stages within 1.5x the scan, 100 stages within 3x, linear in
# size, max RSS of 10,000 stages <= 50 MB.
#
# usage: benchmarks/validate.sh            (from any directory)
# env:   REPS=15            timed runs per command and size (median reported)
#        SIZES="100 1000 10000"
#        PIPELINE_BIN=path  use this binary instead of the static release one (scripts/release)
#                           (built with: swift build -c release --scratch-path .build-bench)
#        TIMER=auto|hyperfine|python   (auto: hyperfine if present or installable)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=${REPS:-15}
SIZES=${SIZES:-"100 1000 10000"}
TIMER=${TIMER:-auto}
OUT=benchmarks/out

die() { echo "validate.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, got '$REPS'"
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad size '$n' in SIZES"; done
command -v cc >/dev/null || die "cc not found"
command -v python3 >/dev/null || die "python3 not found (needed for generation and reporting)"

as_root() { [[ $(id -u) -eq 0 ]]; }
apt_install() { # best effort; never fatal
    as_root && command -v apt-get >/dev/null || return 1
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# --- tools -----------------------------------------------------------------------
case $TIMER in
    auto)
        if command -v hyperfine >/dev/null || { apt_install hyperfine && command -v hyperfine >/dev/null; }; then
            TIMER=hyperfine
        else
            TIMER=python
        fi ;;
    hyperfine) command -v hyperfine >/dev/null || die "TIMER=hyperfine but hyperfine is not installed" ;;
    python) ;;
    *) die "TIMER must be auto, hyperfine or python" ;;
esac
GNU_TIME=/usr/bin/time
if ! "$GNU_TIME" -f %M true >/dev/null 2>&1; then
    apt_install time || true
    "$GNU_TIME" -f %M true >/dev/null 2>&1 || GNU_TIME=  # then RSS comes from $TMP/maxrss
fi

# --- binaries --------------------------------------------------------------------
if [[ -n ${PIPELINE_BIN:-} ]]; then
    BIN=$PIPELINE_BIN
else
    # The static release binary, what users install (scripts/release; stripped below as it packs it).
    log "scripts/release --bin-only"
    BIN=$(scripts/release --bin-only | tail -1)
fi
[[ -x $BIN ]] || die "pipeline binary not executable: $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [[ -z ${PIPELINE_BIN:-} ]]; then
    strip -o "$TMP/pipeline" "$BIN"
    BIN=$TMP/pipeline
fi
SCAN=$TMP/scan
log "cc -O2 benchmarks/scan.c -lyaml"
cc -O2 -o "$SCAN" benchmarks/scan.c -lyaml
if [[ -z $GNU_TIME ]]; then
    # Stand-in for `/usr/bin/time -f %M`: fork, exec, wait4, print ru_maxrss (KiB).
    # (A python wrapper would not do: a child's ru_maxrss counts the parent's pages until exec.)
    cc -O2 -x c -o "$TMP/maxrss" - <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0); dup2(null, 1); dup2(null, 2);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status; struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) return 2;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    printf("%ld\n", usage.ru_maxrss);
    return 0;
}
C
fi

# --- inputs ----------------------------------------------------------------------
mkdir -p "$OUT"
for n in $SIZES; do
    python3 benchmarks/gen.py "$n" "$OUT/stages-$n.yml"
    # Both commands must accept the file before anything is timed.
    "$SCAN" "$OUT/stages-$n.yml" >/dev/null || die "scan rejected $OUT/stages-$n.yml"
    if ! "$BIN" validate "$OUT/stages-$n.yml" >"$TMP/validate.out" 2>&1; then
        cat "$TMP/validate.out" >&2
        die "'pipeline validate $OUT/stages-$n.yml' failed (exit status must be 0)"
    fi
done

# --- timing ----------------------------------------------------------------------
# Raw results: $TMP/times-N-{scan,validate,version} (ms, one run a line), $TMP/rss-N-* (KiB).
log "timer: $TIMER, $REPS runs per command and size, interleaved"

time_hyperfine() { # N FILE
    local n=$1 file=$2 r a b c
    # One warm-up round, then REPS rounds of one run each; the order rotates per round.
    hyperfine -N --runs 1 --style none "$(cmd_of scan "$file")" "$(cmd_of validate "$file")" "$(cmd_of version "$file")" \
        >/dev/null 2>&1 || die "hyperfine failed on $file"
    for ((r = 0; r < REPS; r++)); do
        case $((r % 3)) in
            0) a=scan; b=validate; c=version ;;
            1) a=validate; b=version; c=scan ;;
            *) a=version; b=scan; c=validate ;;
        esac
        hyperfine -N --runs 1 --style none --export-json "$TMP/h.json" \
            "$(cmd_of $a "$file")" "$(cmd_of $b "$file")" "$(cmd_of $c "$file")" >/dev/null 2>"$TMP/h.err" ||
            { cat "$TMP/h.err" >&2; die "hyperfine failed on $file (non-zero exit?)"; }
        mv "$TMP/h.json" "$TMP/h-$n-$r-$a-$b-$c.json"
    done
    # Each JSON holds one run of each command, in the order named in its file name.
    python3 - "$TMP" "$n" <<'PY'
import glob, json, sys
tmp, n = sys.argv[1], sys.argv[2]
times = {"scan": [], "validate": [], "version": []}
for path in sorted(glob.glob(f"{tmp}/h-{n}-*.json")):
    order = path[:-len(".json")].split("-")[-3:]
    for name, result in zip(order, json.load(open(path))["results"]):
        times[name] += [t * 1000 for t in result["times"]]
for name, values in times.items():
    with open(f"{tmp}/times-{n}-{name}", "w") as f:
        f.writelines(f"{v:.4f}\n" for v in values)
PY
}
# argv_of NAME FILE sets CMD to the argv of command NAME (scan | validate | version) on FILE;
# cmd_of prints it as one shell-quoted string, for hyperfine.
argv_of() {
    case $1 in
        scan) CMD=("$SCAN" "$2") ;;
        validate) CMD=("$BIN" validate "$2") ;;
        *) CMD=("$BIN" --version) ;;
    esac
}
cmd_of() { argv_of "$1" "$2"; printf '%q ' "${CMD[@]}"; }

time_python() { # N FILE -- one python process spawns every run; its start-up is not timed
    python3 - "$REPS" "$TMP/times-$1" "$SCAN" "$BIN" "$2" <<'PY'
import os, sys, time
reps, prefix, scan, binary, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
commands = {"scan": [scan, path], "validate": [binary, "validate", path], "version": [binary, "--version"]}
null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]

def run(argv):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=null)
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"validate.sh: {' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed / 1e6

for name in commands:  # warm-up
    run(commands[name])
times = {name: [] for name in commands}
rotations = [["scan", "validate", "version"], ["validate", "version", "scan"], ["version", "scan", "validate"]]
for r in range(reps):
    order = rotations[r % 3]
    for name in order:
        times[name].append(run(commands[name]))
for name, values in times.items():
    with open(f"{prefix}-{name}", "w") as f:
        f.writelines(f"{v:.4f}\n" for v in values)
PY
}

measure_rss() { # N FILE -- max over 3 runs of each command, KiB
    local n=$1 file=$2 name i kb k
    for name in scan validate; do
        kb=0
        for i in 1 2 3; do
            if [[ -n $GNU_TIME ]]; then
                argv_of $name "$file"
                "$GNU_TIME" -f %M -o "$TMP/rss.one" "${CMD[@]}" >/dev/null 2>&1 ||
                    die "$name failed on $file under $GNU_TIME"
                k=$(tail -n 1 "$TMP/rss.one")
            else
                argv_of $name "$file"
                k=$("$TMP/maxrss" "${CMD[@]}") ||
                    die "$name failed on $file"
            fi
            if ((k > kb)); then kb=$k; fi
        done
        echo "$kb" >"$TMP/rss-$n-$name"
    done
}

for n in $SIZES; do
    file=$OUT/stages-$n.yml
    log "$n stages ($(wc -c <"$file") bytes)"
    if [[ $TIMER == hyperfine ]]; then time_hyperfine "$n" "$file"; else time_python "$n" "$file"; fi
    measure_rss "$n" "$file"
done

# --- report ----------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
libyaml=$(dpkg-query -W -f '${Version}' libyaml-0-2 2>/dev/null || echo unknown)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo none)
python3 - "$TMP" "$OUT" "$REPS" "$TIMER" "$SIZES" "$cpu" "$(nproc 2>/dev/null || echo '?')" \
    "$libyaml" "$rev" "$BIN" <<'PY'
import os, statistics, sys, datetime
tmp, out, reps, timer, sizes, cpu, cpus, libyaml, rev, binary = sys.argv[1:]
sizes = [int(s) for s in sizes.split()]

def times(n, name):
    return [float(line) for line in open(f"{tmp}/times-{n}-{name}")]

def rss_mb(n, name):
    return int(open(f"{tmp}/rss-{n}-{name}").read()) / 1024

rows = []
for n in sizes:
    scan, validate = statistics.median(times(n, "scan")), statistics.median(times(n, "validate"))
    version = statistics.median(times(n, "version"))
    rows.append(dict(n=n, bytes=os.path.getsize(f"{out}/stages-{n}.yml"), scan=scan,
                     validate=validate, version=version, ratio=validate / scan, per1k=validate / n * 1000,
                     rss=rss_mb(n, "validate"), scan_rss=rss_mb(n, "scan")))

print(f"{datetime.date.today()} · commit {rev} · {cpu or 'unknown CPU'} ({cpus} CPUs) · "
      f"libyaml {libyaml} · {timer}, median of {reps} interleaved runs · `{binary}`")
print()
print("| stages | file bytes | scan ms | validate ms | ratio | `--version` ms (start-up) | validate ms / 1k stages | max RSS MB |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['n']:,} | {r['bytes']:,} | {r['scan']:.2f} | {r['validate']:.2f} | "
          f"{r['ratio']:.2f}x | {r['version']:.2f} | {r['per1k']:.2f} | {r['rss']:.1f} |")
print()
print("Scan max RSS MB: " + ", ".join(f"{r['n']:,}: {r['scan_rss']:.1f}" for r in rows))

# Targets (informational; the exit status does not depend on them).
largest = rows[-1]
checks = [(f"{largest['n']:,} stages within 1.5x the scan", largest["ratio"] <= 1.5,
           f"{largest['ratio']:.2f}x"),
          (f"max RSS of {largest['n']:,} stages <= 50 MB", largest["rss"] <= 50,
           f"{largest['rss']:.1f} MB")]
smallest = rows[0]
if len(rows) >= 2:
    checks.insert(1, (f"{smallest['n']:,} stages within 3x the scan", smallest["ratio"] <= 3,
                      f"{smallest['ratio']:.2f}x"))
if len(rows) >= 2:
    # Linear: ms per 1k stages at the largest size no more than 1.5x that at the next one down
    # (the smallest sizes are dominated by process start-up, so they are not compared).
    growth = largest["per1k"] / rows[-2]["per1k"]
    checks.append((f"linear ({rows[-2]['n']:,} -> {largest['n']:,} stages, per-1k growth <= 1.5x)",
                   growth <= 1.5, f"{growth:.2f}x"))
print()
for label, ok, value in checks:
    print(f"- {'ok' if ok else 'MISS'}: {label} ({value})")
PY
