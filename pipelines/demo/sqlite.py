#!/usr/bin/env python3
"""SQLite operations for the demo (Python's sqlite3 module: no value is pasted into shell text).

  sqlite.py DB exec SQL | script FILE | migrate FILE BOOKKEEPING_SQL
  sqlite.py DB backup-to PATH | restore-from PATH | dump
"""
import sqlite3
import sys

db, command, *rest = sys.argv[1:]
connection = sqlite3.connect(db, isolation_level=None)
if command == "exec":
    connection.execute(rest[0])
elif command == "script":
    connection.executescript(open(rest[0]).read())
elif command == "migrate":
    # One transaction: the migration and its bookkeeping both apply, or neither does.
    connection.execute("BEGIN")
    try:
        text = "\n".join(l for l in open(rest[0]).read().splitlines() if not l.strip().startswith("--"))
        for statement in text.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(rest[1])
        connection.execute("COMMIT")
    except sqlite3.Error as error:
        connection.execute("ROLLBACK")
        sys.exit(f"{rest[0]}: {error}")
    print(f"applied {rest[0].rsplit('/', 1)[-1]}")
elif command == "backup-to":
    target = sqlite3.connect(rest[0])
    connection.backup(target)
    target.close()
    print(f"backed up {db} to {rest[0]}")
elif command == "restore-from":
    source = sqlite3.connect(rest[0])
    source.backup(connection)
    source.close()
    print(f"restored {db} from {rest[0]}")
elif command == "dump":
    for line in connection.iterdump():
        print(line)
else:
    sys.exit(f"unknown command {command}")
