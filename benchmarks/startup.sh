#!/usr/bin/env bash
# Start-up benchmark (issue 15's targets): `pipeline --version` and `pipeline validate` of a
# 10-stage file with the static release binary (scripts/release, stripped as it packs it: what
# users install), against a
# C program that links libyaml and exits, all whole processes, timed by `hyperfine -N` (no shell
# in between, so nothing but the process itself is counted), interleaved rounds in the same run
# (the machines are shared and noisy). The dynamically linked build is shown for comparison.
# Prints medians in ms and ratios to the C reference. Target: <= 3x for the static binary.
#
# A second reference shows what the libraries cost before `pipeline` does any work of its own: a
# CLI of the same construction (swift-argument-parser with a `validate` subcommand of five options,
# FoundationEssentials, linked statically (libstdc++ too) and position-dependent like the release
# binary) that parses its arguments and exits. (`pipeline validate FILE…` with file names only
# skips argument-parser: Sources/pipeline/FastArguments.swift.)
#
# usage: benchmarks/startup.sh   (REPS=200 runs per command, in ROUNDS=5 interleaved rounds;
#                                 STATIC_BIN / DYNAMIC_BIN to use built binaries, DYNAMIC_BIN=none
#                                 to skip the dynamic build, REFERENCE_CLI=none to skip building
#                                 the argument-parser reference)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-200}
ROUNDS=${ROUNDS:-5}
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine; } >/dev/null; }
STATIC_BIN=${STATIC_BIN:-$PWD/$(scripts/release --bin-only | tail -1)}
if [ -z "${DYNAMIC_BIN:-}" ]; then
  swift build -c release --product pipeline --scratch-path .build-bench >&2
  DYNAMIC_BIN="$(swift build -c release --show-bin-path --scratch-path .build-bench)/pipeline"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/floor.c" <<'C'
#include <yaml.h>
int main(void) { yaml_parser_t p; if (!yaml_parser_initialize(&p)) return 1; yaml_parser_delete(&p); return 0; }
C
gcc -O2 -o "$work/floor" "$work/floor.c" $(pkg-config --cflags --libs yaml-0.1)
{
  printf 'version: 1\nname: ten\nstages:\n'
  for i in 0 1 2 3 4 5 6 7 8 9; do printf '  - { id: s%d, kind: command, run: "true" }\n' "$i"; done
} > "$work/ten.yml"
# Stripped, as scripts/release packs it (what users install).
strip -o "$work/pipeline" "$STATIC_BIN"
STATIC_BIN=$work/pipeline
"$STATIC_BIN" validate "$work/ten.yml" >/dev/null
commands=("$work/floor" "$STATIC_BIN --version" "$STATIC_BIN validate $work/ten.yml")
labels=("C program linking libyaml (floor)" "--version, static release" "validate 10 stages, static")
if [ "${REFERENCE_CLI:-}" != none ]; then
  ref=.build-bench/startup-reference
  mkdir -p "$ref/Sources/reference"
  cat > "$ref/Package.swift" <<'SWIFT'
// swift-tools-version: 6.0
import PackageDescription
let package = Package(
    name: "reference",
    dependencies: [.package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")],
    targets: [.executableTarget(name: "reference", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")])])
SWIFT
  cat > "$ref/Sources/reference/main.swift" <<'SWIFT'
import ArgumentParser
import FoundationEssentials
enum Format: String, ExpressibleByArgument { case text, json }
struct Reference: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reference", version: "0.1.0", subcommands: [Validate.self])
}
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate")
    @Argument var files: [String]
    @Flag var strict = false
    @Option var format: Format = .text
    @Option var env: String?
    @Option var input: [String] = []
    func run() throws { _ = FileManager.default.fileExists(atPath: files[0]) }
}
Reference.main()
SWIFT
  mkdir -p "$ref/cxx" && ln -sf "$(gcc -print-file-name=libstdc++.a)" "$ref/cxx/libstdc++.a"
  swift build -c release --static-swift-stdlib -Xlinker -no-pie -Xlinker --no-export-dynamic -Xlinker -L"$PWD/$ref/cxx" --package-path "$ref" >&2
  reference="$(swift build -c release --show-bin-path --package-path "$ref")/reference"
  commands+=("$reference --version" "$reference validate $work/ten.yml")
  labels+=("argument-parser CLI --version" "argument-parser CLI validate (parse)")
fi
if [ "$DYNAMIC_BIN" != none ]; then
  commands+=("$DYNAMIC_BIN --version" "$DYNAMIC_BIN validate $work/ten.yml")
  labels+=("--version, dynamic release" "validate 10 stages, dynamic")
fi
per_round=$(( (REPS + ROUNDS - 1) / ROUNDS ))
for round in $(seq "$ROUNDS"); do
  hyperfine -N -w 5 -r "$per_round" --export-json "$work/round$round.json" "${commands[@]}" >/dev/null 2>&1
done
python3 - "$work" "$ROUNDS" "${labels[@]}" <<'PY'
import json, statistics, sys
work, rounds, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = [[] for _ in labels]
for r in range(1, rounds + 1):
    for i, result in enumerate(json.load(open(f"{work}/round{r}.json"))["results"]):
        times[i] += result["times"]
medians = [statistics.median(t) * 1000 for t in times]
print(f"{'command':<36} {'median':>9} {'ratio':>7}  runs")
for label, m, t in zip(labels, medians, times):
    print(f"{label:<36} {m:7.2f}ms {m / medians[0]:6.2f}x  {len(t)}")
for label, m in list(zip(labels, medians))[1:3]:
    print(f"{'ok' if m / medians[0] <= 3 else 'MISS'}: {label} within 3x the C floor ({m / medians[0]:.2f}x)")
PY
