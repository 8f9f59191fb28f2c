#!/usr/bin/env python3
"""Validates a run's journal against schemas/journal.schema.json with a third-party validator.

usage: check-journal.py SCHEMA RUN_DIR [STATUS_JSON_FILE]

Checks every line of RUN_DIR/events.jsonl against $defs/event, RUN_DIR/state.json (if the
engine wrote one) against $defs/state, and STATUS_JSON_FILE (the output of
`pipeline status RUN --json`) against $defs/status. The definitions are reached the way a
user would reach them: {"$ref": "journal.schema.json#/$defs/NAME"}.

A torn final line (no newline at the end: the engine died mid-write) is ignored, as the engine
ignores it; any other line that is not JSON is an error. Prints `path:line: error: ...` for each
violation (line 1 for state.json and the status document, with the JSON path of the value) and
exits 1; exits 0 when everything matches; exits 2 on usage errors or an unreadable schema.
"""
import json
import pathlib
import sys

import jsonschema
import referencing
import referencing.jsonschema

SCHEMA_URI = "journal.schema.json"


def validators(schema_path):
    schema = json.loads(pathlib.Path(schema_path).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource(SCHEMA_URI, resource)
    out = {}
    for name in ("event", "state", "status"):
        if name not in schema.get("$defs", {}):
            raise ValueError(f"{schema_path}: no $defs/{name}")
        out[name] = jsonschema.Draft202012Validator({"$ref": f"{SCHEMA_URI}#/$defs/{name}"}, registry=registry)
    return out


def where(error):
    return "/" + "/".join(map(str, error.absolute_path))


def best(error):
    # For if/then and anyOf failures, report the innermost cause, which names the field.
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return error


def report(path, line, validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        inner = best(error)
        print(f"{path}:{line}: error: {where(inner)}: {inner.message}")
    return len(errors)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        check = validators(argv[0])
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as error:
        print(f"{argv[0]}: error: {error}", file=sys.stderr)
        return 2
    run_dir = pathlib.Path(argv[1])
    failures = 0

    events = run_dir / "events.jsonl"
    try:
        text = events.read_text(encoding="utf-8")
    except OSError as error:
        print(f"{events}:1: error: cannot read: {error.strerror}")
        return 1
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # torn tail: ignored, as the engine does
    if not lines:
        print(f"{events}:1: error: no events (the first line must be run_started)")
        failures += 1
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            print(f"{events}:{number}: error: not JSON: {error.msg}")
            failures += 1
            continue
        failures += report(events, number, check["event"], event)
        if number == 1 and isinstance(event, dict) and event.get("type") != "run_started":
            print(f"{events}:1: error: the first event must be run_started, not {event.get('type')!r}")
            failures += 1

    state = run_dir / "state.json"
    if state.exists():
        try:
            failures += report(state, 1, check["state"], json.loads(state.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            print(f"{state}:{error.lineno}: error: not JSON: {error.msg}")
            failures += 1

    if len(argv) == 3:
        status = pathlib.Path(argv[2])
        try:
            failures += report(status, 1, check["status"], json.loads(status.read_text(encoding="utf-8")))
        except OSError as error:
            print(f"{status}:1: error: cannot read: {error.strerror}")
            failures += 1
        except json.JSONDecodeError as error:
            print(f"{status}:{error.lineno}: error: not JSON: {error.msg}")
            failures += 1

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
