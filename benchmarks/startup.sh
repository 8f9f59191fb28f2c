#!/usr/bin/env bash
# Start-up benchmark (issue 15's targets): `pipeline --version` and `pipeline validate` of a
# 10-stage file, with the dynamically linked release build and with the static release binary
# (scripts/release), against a C program that links libyaml and exits, all whole processes,
# interleaved in the same run (the machines are shared and noisy). Prints medians in ms and
# ratios to the C reference. Target: <= 3x.
#
# usage: benchmarks/startup.sh   (REPS=30; DYNAMIC_BIN / STATIC_BIN to use built binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-30}
if [ -z "${DYNAMIC_BIN:-}" ]; then
  swift build -c release --product pipeline --scratch-path .build-bench >&2
  DYNAMIC_BIN="$(swift build -c release --show-bin-path --scratch-path .build-bench)/pipeline"
fi
STATIC_BIN=${STATIC_BIN:-$PWD/$(scripts/release --bin-only | tail -1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/floor.c" <<'C'
#include <yaml.h>
int main(void) { yaml_parser_t p; if (!yaml_parser_initialize(&p)) return 1; yaml_parser_delete(&p); return 0; }
C
gcc -O2 -o "$work/floor" "$work/floor.c" $(pkg-config --cflags --libs yaml-0.1)
python3 - "$work" <<'PY'
import sys
with open(f"{sys.argv[1]}/ten.yml", "w") as f:
    f.write("version: 1\nname: ten\nstages:\n")
    for i in range(10): f.write(f'  - {{ id: s{i}, kind: command, run: "true" }}\n')
PY
measure() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
declare -A samples
for _ in $(seq "$REPS"); do
  samples[floor]+="$(measure "$work/floor") "
  samples[dyn_version]+="$(measure "$DYNAMIC_BIN" --version) "
  samples[static_version]+="$(measure "$STATIC_BIN" --version) "
  samples[dyn_validate]+="$(measure "$DYNAMIC_BIN" validate "$work/ten.yml") "
  samples[static_validate]+="$(measure "$STATIC_BIN" validate "$work/ten.yml") "
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor=$(echo "${samples[floor]}" | median)
printf '%-34s %9s %7s\n' "command" "median" "ratio"
printf '%-34s %7.2fms %7s\n' "C program linking libyaml (floor)" "$(echo "$floor/1000" | bc -l)" "1.00x"
for key in dyn_version static_version dyn_validate static_validate; do
  m=$(echo "${samples[$key]}" | median)
  case $key in
    dyn_version) label="--version, dynamic release" ;; static_version) label="--version, static release" ;;
    dyn_validate) label="validate 10 stages, dynamic" ;; static_validate) label="validate 10 stages, static" ;;
  esac
  printf '%-34s %7.2fms %6.2fx\n' "$label" "$(echo "$m/1000" | bc -l)" "$(echo "$m/$floor" | bc -l)"
done
