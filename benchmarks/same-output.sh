#!/usr/bin/env bash
# Differential check: two `pipeline` binaries must give byte-identical output and the same exit
# status on every fixture, every example pipeline and many mutants of them. Run it before keeping
# a change to the reader, decoder, graph or lint that is meant to change nothing visible
# (issue 15's speed work: the fixtures' `.expected` files are the contract, this checks the rest).
#
# usage: benchmarks/same-output.sh OLD_BIN NEW_BIN
# env:   MUTANTS=20   mutants made of each file (deterministic: the seed is fixed)
#        SEED=15      seed of the mutations
#        SHOW=5       differences printed in full (all are counted)
#
# Inputs: Tests/PipelineKitTests/Fixtures/**/*.yml and pipelines/**/*.yml, copied with their
# directories to a temporary tree (so `include` paths still resolve), and for each file MUTANTS
# mutants written next to it: a line deleted, doubled, swapped with the next, re-indented, the
# file truncated, a character replaced, a value changed (numbers, booleans, durations, ids,
# null), a key misspelled. Each file is run through
#     validate F | validate --format json F | validate --strict --format github F
#     plan F     | plan --format json F
# by both binaries (working directory: the tree's root, same relative path), comparing stdout,
# stderr and exit status. Prints the counts; exits 1 if any run differs, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
OLD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
NEW=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[[ -x $OLD && -x $NEW ]] || { echo "same-output.sh: both binaries must be executable" >&2; exit 2; }
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-same.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

python3 - "$ROOT" "$TMP" "$OLD" "$NEW" "${MUTANTS:-20}" "${SEED:-15}" "${SHOW:-5}" <<'PY'
import os, random, re, shutil, subprocess, sys

root, tmp, old, new, mutants, seed, show = sys.argv[1:]
mutants, show = int(mutants), int(show)
rng = random.Random(int(seed))
tree = os.path.join(tmp, "tree")
sources = ["Tests/PipelineKitTests/Fixtures", "pipelines"]
for source in sources:
    shutil.copytree(os.path.join(root, source), os.path.join(tree, source))

originals = sorted(
    os.path.relpath(os.path.join(d, f), tree)
    for source in sources for d, _, files in os.walk(os.path.join(tree, source))
    for f in files if f.endswith((".yml", ".yaml")))

VALUES = ["0", "-1", "3", "99999999999", "1.5", "true", "false", "yes", "no", "~", "null", "''", '""',
          "10m", "0s", "90", "1h30m", "31d", "abc", "[]", "{}", "[a, b]", "s1", "${{ inputs.x }}",
          "${{ stages.a.outputs.X }}", "'${{ env.Y }}'", "/bin/sh", "http://x", "mon", "10:00-17:00"]

def mutate(text):
    lines = text.split("\n")
    kind = rng.randrange(9)
    i = rng.randrange(len(lines)) if lines else 0
    if kind == 0 and lines:                      # delete a line
        del lines[i]
    elif kind == 1 and lines:                    # double a line
        lines.insert(i, lines[i])
    elif kind == 2 and len(lines) > 1:           # swap with the next
        i = min(i, len(lines) - 2)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif kind == 3 and lines:                    # re-indent
        lines[i] = lines[i][2:] if lines[i].startswith("  ") and rng.random() < 0.5 else "  " + lines[i]
    elif kind == 4:                              # truncate
        return text[:rng.randrange(len(text) + 1)]
    elif kind == 5 and text:                     # replace a character
        at = rng.randrange(len(text))
        return text[:at] + rng.choice(":-[]{}#&*!|>'\"%@`, \t\nxZ9") + text[at + 1:]
    elif kind in (6, 7) and lines:               # change a value
        candidates = [j for j, l in enumerate(lines) if re.match(r"^\s*(- )?[A-Za-z_][\w.-]*:\s*\S", l)]
        if candidates:
            j = rng.choice(candidates)
            key = re.match(r"^(\s*(?:- )?[A-Za-z_][\w.-]*:\s*)", lines[j]).group(1)
            lines[j] = key + rng.choice(VALUES)
    elif lines:                                  # misspell a key
        candidates = [j for j, l in enumerate(lines) if re.match(r"^\s*(- )?[A-Za-z_][\w-]{2,}:", l)]
        if candidates:
            j = rng.choice(candidates)
            m = re.match(r"^(\s*(?:- )?)([A-Za-z_][\w-]{2,})(:.*)$", lines[j])
            word = list(m.group(2))
            k = rng.randrange(len(word) - 1)
            if rng.random() < 0.5:
                word[k], word[k + 1] = word[k + 1], word[k]
            else:
                del word[k]
            lines[j] = m.group(1) + "".join(word) + m.group(3)
    return "\n".join(lines)

files = list(originals)
for rel in originals:
    with open(os.path.join(tree, rel), encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    base, ext = os.path.splitext(rel)
    for n in range(mutants):
        m = mutate(text)
        if rng.random() < 0.3:
            m = mutate(m)
        path = f"{base}.mutant{n}{ext}"
        with open(os.path.join(tree, path), "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(m)
        files.append(path)

COMMANDS = [["validate"], ["validate", "--format", "json"], ["validate", "--strict", "--format", "github"],
            ["plan"], ["plan", "--format", "json"]]
env = dict(os.environ, NO_COLOR="1")
runs = differ = 0
statuses = {}
for rel in files:
    for command in COMMANDS:
        results = []
        for binary in (old, new):
            try:
                p = subprocess.run([binary] + command + [rel], cwd=tree, capture_output=True, env=env, timeout=60)
                results.append((p.returncode, p.stdout, p.stderr))
            except subprocess.TimeoutExpired:
                results.append(("timeout", b"", b""))
        runs += 1
        statuses[results[0][0]] = statuses.get(results[0][0], 0) + 1
        if results[0] != results[1]:
            differ += 1
            if differ <= show:
                print(f"DIFFERS: {' '.join(command)} {rel}")
                for name, (code, out, err) in zip(("old", "new"), results):
                    print(f"  {name}: exit {code}\n    stdout: {out[:600]!r}\n    stderr: {err[:600]!r}")
print(f"files: {len(originals)} originals + {len(files) - len(originals)} mutants; runs: {runs} "
      f"(each by both binaries); exit statuses (old): "
      + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
print(f"differing runs: {differ}")
sys.exit(1 if differ else 0)
PY
