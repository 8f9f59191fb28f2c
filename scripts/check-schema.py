#!/usr/bin/env python3
"""Validates pipeline files against schemas/pipeline.schema.json with a third-party validator.

usage: check-schema.py FILE...                  every file must be valid
       check-schema.py --expect-invalid FILE... every file must be rejected
"""
import json
import pathlib
import re
import sys

import jsonschema
import yaml


class StrictBooleans(yaml.SafeLoader):
    """SafeLoader with pipeline's booleans: only `true` and `false` (YAML 1.1 also reads `on`,
    `no`, `yes` as booleans, which would turn a `notify` item's `on:` key into True)."""


StrictBooleans.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictBooleans.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def main(argv):
    expect_invalid = argv[:1] == ["--expect-invalid"]
    files = argv[1:] if expect_invalid else argv
    root = pathlib.Path(__file__).resolve().parent.parent
    schema = json.loads((root / "schemas" / "pipeline.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    stage_file = jsonschema.Draft202012Validator({"$ref": "#/$defs/stageFile", "$defs": schema["$defs"]})
    failures = 0
    for name in files:
        # BaseLoader keeps every scalar a string, like pipeline's strict reader does not;
        # SafeLoader gives ints and booleans the schema expects (booleans as pipeline reads them).
        document = yaml.load(pathlib.Path(name).read_text(), Loader=StrictBooleans)
        # A stage file (`kind: stages`) is described by $defs/stageFile of the same schema.
        if isinstance(document, dict) and document.get("kind") == "stages":
            errors = sorted(stage_file.iter_errors(document), key=lambda e: list(e.path))
        else:
            errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if expect_invalid and not errors:
            print(f"{name}: accepted by the schema but should be rejected")
            failures += 1
        elif not expect_invalid and errors:
            for error in errors:
                print(f"{name}: {'/'.join(map(str, error.path))}: {error.message}")
            failures += 1
        else:
            print(f"{name}: {'rejected' if expect_invalid else 'valid'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
