#!/usr/bin/env python3
"""Writes a synthetic, valid pipeline file of N stages for benchmarks/validate.sh.

usage: gen.py N OUT

Stages are `command` stages with 8 keys each. The DAG is a chain (stage i needs
stage i-1); every 10th stage (i >= 10) also needs stage i-10, for fan-in.
"""
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        n = int(argv[1])
    except ValueError:
        n = 0
    if n < 1:
        sys.stderr.write(f"gen.py: N must be an integer >= 1, got {argv[1]!r}\n")
        return 2
    lines = [
        "version: 1",
        f"name: bench-{n}",
        "defaults:",
        "  timeout: 10m",
        "stages:",
    ]
    for i in range(n):
        if i == 0:
            needs = "[]"
        elif i >= 10 and i % 10 == 0:
            needs = f"[s{i - 1}, s{i - 10}]"
        else:
            needs = f"[s{i - 1}]"
        lines += [
            f"  - id: s{i}",
            "    kind: command",
            f"    name: Stage {i}",
            f"    description: synthetic stage {i}",
            f"    needs: {needs}",
            '    run: "true"',
            '    rollback: "true"',
            "    timeout: 5m",
            "    retry: 2",
        ]
    with open(argv[2], "w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
