#!/usr/bin/env bash
# Benchmark of `pipeline run`: a 1,000-stage chain of `true` stages (each needs the previous) and a
# 1,000-stage fan-out with --max-parallel 2, journal fully durable (fdatasync per batch), against
# `make -j1` / `make -j2` on equivalent Makefiles, measured in the same run (the machines are shared).
# make runs `@true` without a shell, and so does pipeline (`run: "true"` is a plain command, see
# docs/running.md); both are timed as whole processes. The last rows give the floor of any durable
# chain (a C loop that appends, fdatasyncs and spawns once per stage) and of a durable fan-out (a C
# loop, 2 at a time, one fdatasync per batch of starts), and that fan-out loop without the sync.
#
# usage: benchmarks/run.sh            (REPS=10 by default; PIPELINE_BIN to use a built binary;
#        CPU_REPS=3: separate runs that measure CPU time, the children's included)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-10}
N=${N:-1000}
if [ -z "${PIPELINE_BIN:-}" ]; then
  swift build -c release --product pipeline --scratch-path .build-bench >&2
  PIPELINE_BIN="$(swift build -c release --show-bin-path --scratch-path .build-bench)/pipeline"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$N" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/chain.yml", "w") as f:
    f.write("version: 1\nname: chain\nstages:\n")
    for i in range(n): f.write(f'  - {{ id: s{i}, run: "true" }}\n')
with open(f"{work}/fan.yml", "w") as f:
    f.write("version: 1\nname: fan\nstages:\n")
    for i in range(n): f.write(f'  - {{ id: s{i}, needs: [], run: "true" }}\n')
with open(f"{work}/chain.mk", "w") as f:
    f.write(f"all: s{n-1}\n")
    for i in range(n): f.write(f"s{i}: {'s%d' % (i-1) if i else ''}\n\t@true\n")
    f.write(".PHONY: all " + " ".join(f"s{i}" for i in range(n)) + "\n")
with open(f"{work}/fan.mk", "w") as f:
    f.write("all: " + " ".join(f"s{i}" for i in range(n)) + "\n")
    for i in range(n): f.write(f"s{i}:\n\t@true\n")
    f.write(".PHONY: all " + " ".join(f"s{i}" for i in range(n)) + "\n")
PY
# The floor of a durable chain: what any engine that keeps the write-ahead rule pays per stage
# (append the stage's end and the next start, fdatasync, posix_spawn `true`, waitpid), in C.
cat > "$work/floor.c" <<'C'
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    char line[600];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    int fd = open("floor.jsonl", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    char *args[] = {"true", 0};
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        if (write(fd, line, sizeof line) < 0 || fdatasync(fd) != 0) return 1;
        if (posix_spawn(&pid, "/usr/bin/true", 0, 0, args, environ) != 0) return 1;
        waitpid(pid, &status, 0);
    }
    return 0;
}
C
cc -O2 -o "$work/floor" "$work/floor.c"
# The floor of a durable fan-out: at most 2 `true` at a time; the completions reaped together and
# the starts they free are appended, then one fdatasync, then the starts (write-ahead: a start is
# durable before its process exists). With NOSYNC set, the same loop without the fdatasync: what
# the sync alone costs against make -j2.
cat > "$work/fanfloor.c" <<'C'
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    int n = atoi(argv[1]), slots = 2, sync = getenv("NOSYNC") == NULL;
    char line[300];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    int fd = open("fanfloor.jsonl", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    char *args[] = {"true", 0};
    int started = 0, running = 0, done = 0;
    while (done < n) {
        int starts = 0;
        for (; running < slots && started < n; starts++, started++, running++)
            if (write(fd, line, sizeof line) < 0) return 1;
        if (starts > 0 && sync && fdatasync(fd) != 0) return 1;
        for (int i = 0; i < starts; i++) {
            pid_t pid;
            if (posix_spawn(&pid, "/usr/bin/true", 0, 0, args, environ) != 0) return 1;
        }
        int status;
        if (waitpid(-1, &status, 0) <= 0) return 1;
        for (;;) {
            running--, done++;
            if (write(fd, line, sizeof line) < 0) return 1;
            if (waitpid(-1, &status, WNOHANG) <= 0) break;
        }
    }
    return 0;
}
C
cc -O2 -o "$work/fanfloor" "$work/fanfloor.c"
cd "$work"
# Median wall time in ms of a command, runs interleaved by the caller.
measure() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
: > chain-make; : > chain-pipe; : > fan-make; : > fan-pipe; : > chain-floor; : > fan-floor; : > fan-nosync
for _ in $(seq "$REPS"); do
  measure make -s -j1 -f chain.mk >> chain-make
  measure ./floor "$N" >> chain-floor
  rm -rf st; measure "$PIPELINE_BIN" run chain.yml --state-dir st >> chain-pipe
  measure make -s -j2 -f fan.mk >> fan-make
  rm -rf st; measure "$PIPELINE_BIN" run fan.yml --state-dir st --max-parallel 2 >> fan-pipe
  measure ./fanfloor "$N" >> fan-floor
  NOSYNC=1 measure ./fanfloor "$N" >> fan-nosync
done
ff=$(median < fan-floor); fn=$(median < fan-nosync)
cm=$(median < chain-make); cp=$(median < chain-pipe); fm=$(median < fan-make); fp=$(median < fan-pipe); cf=$(median < chain-floor)
# CPU time (user + system, the process and every child it waited for), in separate runs after the
# timed ones (so the timing is not wrapped in a measuring process): on two shared cores the fan-out is
# bound by CPU, and this shows what the engine adds to what the scripts themselves take.
cpu() {
  python3 -c 'import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, _, use = os.wait4(p.pid, 0)
print(int((use.ru_utime + use.ru_stime) * 1e6))' "$@"
}
: > cpu-chain-make; : > cpu-chain-pipe; : > cpu-fan-make; : > cpu-fan-pipe; : > cpu-chain-floor
for _ in $(seq "${CPU_REPS:-3}"); do
  cpu make -s -j1 -f chain.mk >> cpu-chain-make
  cpu ./floor "$N" >> cpu-chain-floor
  rm -rf st; cpu "$PIPELINE_BIN" run chain.yml --state-dir st >> cpu-chain-pipe
  cpu make -s -j2 -f fan.mk >> cpu-fan-make
  rm -rf st; cpu "$PIPELINE_BIN" run fan.yml --state-dir st --max-parallel 2 >> cpu-fan-pipe
done
ccm=$(median < cpu-chain-make); ccp=$(median < cpu-chain-pipe); cfm=$(median < cpu-fan-make); cfp=$(median < cpu-fan-pipe); ccf=$(median < cpu-chain-floor)
echo "$(date -u +%Y-%m-%d) · $(nproc) cores · $N stages · median of $REPS interleaved runs · $PIPELINE_BIN"
echo
echo "| workload | make ms | pipeline ms | ratio | pipeline ms/stage | CPU ms, make / pipeline (median of ${CPU_REPS:-3}) |"
echo "|---|---:|---:|---:|---:|---:|"
awk -v m="$cm" -v p="$cp" -v n="$N" -v a="$ccm" -v b="$ccp" 'BEGIN { printf "| chain, -j1 | %.1f | %.1f | %.2fx | %.3f | %.0f / %.0f |\n", m, p, p/m, p/n, a, b }'
awk -v m="$fm" -v p="$fp" -v n="$N" -v a="$cfm" -v b="$cfp" 'BEGIN { printf "| fan-out, -j2 / --max-parallel 2 | %.1f | %.1f | %.2fx | %.3f | %.0f / %.0f |\n", m, p, p/m, p/n, a, b }'
awk -v m="$cm" -v p="$cf" -v n="$N" -v a="$ccm" -v b="$ccf" 'BEGIN { printf "| chain floor: C append + fdatasync + posix_spawn per stage, vs make -j1 | %.1f | %.1f | %.2fx | %.3f | %.0f / %.0f |\n", m, p, p/m, p/n, a, b }'
awk -v m="$fm" -v p="$ff" -v n="$N" 'BEGIN { printf "| fan-out floor: C, 2 at a time, append + one fdatasync per batch of starts, vs make -j2 | %.1f | %.1f | %.2fx | %.3f | — |\n", m, p, p/m, p/n }'
awk -v m="$fm" -v p="$fn" -v n="$N" 'BEGIN { printf "| the same loop without fdatasync, vs make -j2 | %.1f | %.1f | %.2fx | %.3f | — |\n", m, p, p/m, p/n }'
