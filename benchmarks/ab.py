#!/usr/bin/env python3
"""Interleaved wall-time comparison of whole commands on one input file.

usage: benchmarks/ab.py REPS FILE COMMAND [COMMAND...]

Each COMMAND is a program and its arguments in one word list ("/tmp/pl-old validate"); FILE is
appended to each. The commands run one after another, REPS rounds, so a slow spell of this shared
machine touches all of them alike; stdout and stderr go to /dev/null. Prints each command's
median and its ratio to the first command's (put the reference, e.g. benchmarks/scan.c built as
/tmp/scan, first). Used for the A/B rounds in benchmarks/RESULTS.md.
"""
import os
import statistics
import sys
import time


def main(argv):
    if len(argv) < 4 or not argv[1].isdigit() or int(argv[1]) < 1:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    reps, path = int(argv[1]), argv[2]
    commands = [command.split() + [path] for command in argv[3:]]
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    times = [[] for _ in commands]
    for _ in range(reps):
        for i, command in enumerate(commands):
            start = time.perf_counter()
            pid = os.posix_spawn(command[0], command, os.environ, file_actions=actions)
            os.waitpid(pid, 0)
            times[i].append(time.perf_counter() - start)
    base = statistics.median(times[0])
    for command, samples in zip(commands, times):
        median = statistics.median(samples)
        print(f"{median * 1000:8.2f} ms  {median / base:5.2f}x  {' '.join(command[:-1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
