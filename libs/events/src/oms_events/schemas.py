"""JSON Schemas of the registered contracts, committed under ``libs/events/schemas/``.

One file per registered ``(type, version)``: ``<Type>.v<version>.json``, generated from the
pydantic model in JSON-*serialisation* mode, i.e. describing the payload exactly as it is
written to the wire (amounts as decimal strings, datetimes as ISO 8601 strings).

The committed files are the baseline of the compatibility test and a language-neutral
description of the contracts for consumers that are not written in Python::

    uv run python -m oms_events.schemas export   # (re)write the files
    uv run python -m oms_events.schemas check    # report differences, exit 1 if any

``export`` refuses to overwrite a committed schema with an incompatible one (that would
hide the break from the compatibility test) unless every incompatibility is a tightening
recorded in ``oms_events.reviewed_changes``, or ``--allow-breaking`` is given.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oms_events.base import Event
from oms_events.compat import Incompatibility, ReviewedChange, check_compatibility, unreviewed
from oms_events.registry import Registry, registry
from oms_events.reviewed_changes import REVIEWED_CHANGES

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""``libs/events/schemas`` in the source tree (this package is installed in editable mode)."""

_MAX_DIFF_LINES = 60


def schema_filename(type_name: str, version: int) -> str:
    """``OrderPlaced.v1.json``."""
    return f"{type_name}.v{version}.json"


def schema_for(cls: type[Event]) -> dict[str, Any]:
    """The wire JSON Schema of contract ``cls``, with its type and version as metadata."""
    type_name, version = cls.contract_key()
    body = cls.model_json_schema(mode="serialization")
    # The class may be called OrderSubmittedV1; the schema is named by its wire identity.
    body["title"] = type_name
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:oms:event:{type_name}:v{version}",
        "x-oms-event-type": type_name,
        "x-oms-event-version": version,
        **body,
    }


def render(schema: dict[str, Any]) -> str:
    """Stable text for a schema file: sorted keys, two-space indent, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_committed(cls: type[Event], directory: Path = DEFAULT_DIR) -> dict[str, Any] | None:
    """The committed schema of ``cls``, or None if there is no file for it."""
    path = directory / schema_filename(*cls.contract_key())
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class SchemaDifference:
    """A committed schema file that does not match the registered contracts.

    ``status`` is ``missing`` (no file for a registered contract), ``outdated`` (file and
    model differ; ``incompatibilities`` says whether the change is breaking, ``reviewed``
    holds the tightenings a reviewed change accepted) or ``unregistered`` (a file for which
    no contract is registered).
    """

    filename: str
    status: str
    incompatibilities: tuple[Incompatibility, ...] = ()
    diff: str = ""
    reviewed: tuple[Incompatibility, ...] = ()

    def __str__(self) -> str:
        text = f"{self.status}: {self.filename}"
        if self.status == "outdated":
            if self.incompatibilities:
                text += " (INCOMPATIBLE)"
            elif self.reviewed:
                text += f" (reviewed tightening: {len(self.reviewed)} constraint(s))"
            else:
                text += " (compatible change)"
        for issue in self.incompatibilities:
            text += f"\n    {issue}"
        return text


class SchemaExportRefused(Exception):
    """``export`` would overwrite committed schemas with incompatible ones."""

    def __init__(self, differences: list[SchemaDifference]) -> None:
        super().__init__(
            "incompatible contract changes; add a new version with an upcaster instead "
            "(or, for a deliberate tightening, record it in oms_events.reviewed_changes):\n"
            + "\n".join(str(d) for d in differences)
        )
        self.differences = differences


def diff_schemas(
    directory: Path = DEFAULT_DIR,
    of: Registry = registry,
    *,
    reviewed: Sequence[ReviewedChange] = REVIEWED_CHANGES,
) -> list[SchemaDifference]:
    """Compare the committed files in ``directory`` with the contracts registered in ``of``.

    Incompatibilities that a change in ``reviewed`` accepted are reported apart from the
    others (``SchemaDifference.reviewed``), not as breaking.
    """
    differences: list[SchemaDifference] = []
    expected: set[str] = set()
    for cls in of:
        filename = schema_filename(*cls.contract_key())
        expected.add(filename)
        committed = load_committed(cls, directory)
        current = schema_for(cls)
        if committed is None:
            differences.append(SchemaDifference(filename, "missing"))
        elif render(committed) != render(current):
            diff = difflib.unified_diff(
                render(committed).splitlines(),
                render(current).splitlines(),
                f"committed/{filename}",
                f"current/{filename}",
                lineterm="",
            )
            issues = check_compatibility(committed, current)
            breaking = unreviewed(issues, reviewed)
            differences.append(
                SchemaDifference(
                    filename,
                    "outdated",
                    tuple(breaking),
                    "\n".join(list(diff)[:_MAX_DIFF_LINES]),
                    tuple(i for i in issues if i not in breaking),
                )
            )
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            if path.name not in expected:
                differences.append(SchemaDifference(path.name, "unregistered"))
    return differences


def export_schemas(
    directory: Path = DEFAULT_DIR,
    of: Registry = registry,
    *,
    allow_breaking: bool = False,
    reviewed: Sequence[ReviewedChange] = REVIEWED_CHANGES,
) -> list[Path]:
    """Write the schema file of every contract in ``of`` whose file is missing or outdated.

    Returns the paths written. Raises :class:`SchemaExportRefused` (writing nothing) if a
    file would change incompatibly, beyond the tightenings in ``reviewed``, and
    ``allow_breaking`` is false. Files of unregistered contracts are reported by
    :func:`diff_schemas` but never deleted here.
    """
    differences = diff_schemas(directory, of, reviewed=reviewed)
    breaking = [d for d in differences if d.incompatibilities]
    if breaking and not allow_breaking:
        raise SchemaExportRefused(breaking)
    to_write = {d.filename for d in differences if d.status in ("missing", "outdated")}
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in of:
        path = directory / schema_filename(*cls.contract_key())
        if path.name in to_write:
            path.write_text(render(schema_for(cls)), encoding="utf-8")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m oms_events.schemas", description=__doc__)
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="schema directory")
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="export: overwrite committed schemas even with incompatible changes",
    )
    args = parser.parse_args(argv)
    if args.command == "export":
        try:
            written = export_schemas(args.dir, allow_breaking=args.allow_breaking)
        except SchemaExportRefused as refused:
            print(refused, file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
        print(f"{len(written)} schema file(s) written, {len(registry)} contract(s) registered")
        return 0
    differences = diff_schemas(args.dir)
    for difference in differences:
        print(difference)
        if difference.diff:
            print(difference.diff)
    if differences:
        print(f"{len(differences)} difference(s); run `python -m oms_events.schemas export`")
        return 1
    print(f"all {len(registry)} schema file(s) up to date in {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
