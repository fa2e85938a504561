"""Backward-compatibility check between two JSON Schemas of the same event contract.

*Compatible* means: every payload that was valid under the **old** (committed) schema is
still valid under the **new** one, so code built on the new model can read every event
already stored or in flight. Concretely, a change is reported when

* a field is removed (old payloads carry it and contracts forbid unknown fields),
* a field's type changes in a way that rejects old values (``integer`` -> ``number``
  widens and is fine; ``string`` -> ``integer`` is not), including ``format`` changes,
* a new *required* field appears, or an optional field becomes required,
* an enum loses a value,
* a constraint is added or tightened (``maxLength`` lowered, a ``pattern`` changed...).

Adding optional fields, adding enum values and loosening constraints are allowed.

A tightened constraint can also be a deliberate, reviewed decision rather than a mistake:
bounds added against hostile input that no legitimate producer ever came near. Such a
change is recorded as a :class:`ReviewedChange` (the project's record is
``oms_events.reviewed_changes``), which accepts exactly the listed value changes of
constraint keywords (``maximum`` from none to 100000, ``pattern`` from one regex to
another) and nothing else; :func:`unreviewed` filters them out. Removed fields, changed
types, new required fields and removed enum values cannot be reviewed away: they need a
new version.

Note the other direction: a consumer still running the *old* model rejects a new optional
field or enum value (``extra="forbid"``), so deploy consumers before producers start to
emit them. Anything that breaks these rules needs a new contract version and an upcaster.

The checker understands the subset of JSON Schema that pydantic generates (``$ref`` to
``$defs``, ``anyOf``, ``type``, ``enum``/``const``, ``properties``/``required``,
``items``, ``additionalProperties`` and the usual constraints). A change to any other
structural keyword is reported rather than guessed about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

# Keywords that only document a schema; changing them never affects which data is valid.
# (So do vendor extensions, "x-...".)
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly"}
)
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_HANDLED = frozenset(
    {"$ref", "$defs", "$schema", "$id", "anyOf", "oneOf", "allOf", "type", "format", "enum"}
    | {"const", "properties", "required", "additionalProperties", "items", "pattern"}
    | {"multipleOf", "uniqueItems"}
    | set(_LOWER_BOUNDS)
    | set(_UPPER_BOUNDS)
)


Bound = str | int | float
"""The value of a bound or pattern keyword in a schema."""


@dataclass(frozen=True)
class Incompatibility:
    """One reason why old payloads may no longer validate.

    ``path`` locates the value (``lines[].unit_price.amount``; empty for the root);
    ``kind`` is one of ``field_removed``, ``new_required_field``, ``field_became_required``,
    ``type_changed``, ``enum_value_removed``, ``constraint_tightened``,
    ``unsupported_change``. For a tightened bound or changed pattern, ``keyword`` names it
    and ``old``/``new`` hold its committed and current values (``None``: absent).
    """

    path: str
    kind: str
    detail: str
    keyword: str | None = None
    old: Bound | None = None
    new: Bound | None = None

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.detail}"


@dataclass(frozen=True)
class Tightening:
    """A constraint keyword that went from ``old`` (``None``: absent) to ``new``."""

    keyword: str
    old: Bound | None
    new: Bound


@dataclass(frozen=True)
class ReviewedChange:
    """Constraint tightenings that were reviewed and accepted, with the reason why.

    Each entry accepts its exact ``tightenings`` wherever they occur, and nothing else.
    """

    id: str
    reason: str
    tightenings: tuple[Tightening, ...]

    def covers(self, issue: Incompatibility) -> bool:
        """True when ``issue`` is one of the tightenings this change accepted."""
        if issue.kind != "constraint_tightened" or issue.keyword is None or issue.new is None:
            return False
        return Tightening(issue.keyword, issue.old, issue.new) in self.tightenings


def check_compatibility(old: Schema, new: Schema) -> list[Incompatibility]:
    """Everything in ``new`` that may reject data valid under ``old``; empty if compatible."""
    return _Comparer(old, new).compare(old, new, "")


def is_compatible(old: Schema, new: Schema) -> bool:
    """True when every payload valid under ``old`` stays valid under ``new``."""
    return not check_compatibility(old, new)


def unreviewed(
    issues: Iterable[Incompatibility], reviewed: Iterable[ReviewedChange]
) -> list[Incompatibility]:
    """The ``issues`` that no change in ``reviewed`` accepted."""
    changes = tuple(reviewed)
    return [i for i in issues if not any(c.covers(i) for c in changes)]


class _Comparer:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._roots = (old_root, new_root)
        # $ref pairs being compared right now: recursive schemas must not recurse forever.
        self._active: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        ref_pair = (str(old.get("$ref", "")), str(new.get("$ref", "")))
        if all(ref_pair):
            if ref_pair in self._active:
                return []
            self._active.add(ref_pair)
        try:
            return self._compare_variants(old, new, path)
        finally:
            self._active.discard(ref_pair)

    def _compare_variants(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        old_variants = _variants(old, self._roots[0])
        new_variants = _variants(new, self._roots[1])
        issues: list[Incompatibility] = []
        for ov in old_variants:
            kind = _kind(ov)
            candidates = [nv for nv in new_variants if _accepts_kind(_kind(nv), kind)]
            if not candidates:
                issues.append(
                    Incompatibility(
                        path,
                        "type_changed",
                        f"{_describe(ov)} is no longer accepted "
                        f"(now {' | '.join(_describe(nv) for nv in new_variants)})",
                    )
                )
                continue
            # With several same-kind alternatives, old data only needs to fit one of them.
            results = [self._compare_same_kind(ov, nv, path) for nv in candidates]
            best: list[Incompatibility] = min(results, key=len)
            issues.extend(best)
        return issues

    def _compare_same_kind(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        issues = _constraint_changes(old, new, path)
        if "properties" in old or "properties" in new or _kind(old) == "object":
            issues += self._compare_objects(old, new, path)
        if "items" in old or "items" in new:
            issues += self.compare(old.get("items", {}), new.get("items", {}), f"{path}[]")
        return issues

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        prefix = f"{path}." if path else ""
        for name, old_prop in old_props.items():
            if name not in new_props:
                issues.append(Incompatibility(prefix + name, "field_removed", "field removed"))
            else:
                issues += self.compare(old_prop, new_props[name], prefix + name)
        old_required = set(old.get("required", ()))
        for name in sorted(set(new.get("required", ())) - old_required):
            if name in old_props:
                issues.append(
                    Incompatibility(prefix + name, "field_became_required", "field became required")
                )
            else:
                issues.append(
                    Incompatibility(prefix + name, "new_required_field", "new required field")
                )
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if old_extra is not False:
            # Old data may hold properties beyond the named ones; the new schema must too.
            if new_extra is False:
                issues.append(
                    Incompatibility(
                        path, "constraint_tightened", "no longer accepts additional properties"
                    )
                )
            elif isinstance(new_extra, Mapping):
                old_schema = old_extra if isinstance(old_extra, Mapping) else {}
                issues += self.compare(old_schema, new_extra, f"{prefix}*")
        return issues


def _resolve(node: Schema, root: Schema) -> Schema:
    """Follow ``$ref`` (local JSON pointers only); sibling keywords override the target."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = str(node["$ref"])
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported or circular $ref {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives a value may match, with refs resolved and unions flattened."""
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [v for option in node[key] for v in _variants(option, root)]
    if "allOf" in node and len(node["allOf"]) == 1:
        # Older pydantic wrapped a described $ref as allOf: [{"$ref": ...}].
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return [{**v, **rest} for v in _variants(node["allOf"][0], root)]
    if isinstance(node.get("type"), list):
        return [{**node, "type": t} for t in node["type"]]
    return [node]


def _kind(node: Schema) -> str:
    if "type" in node:
        return str(node["type"])
    values = node["enum"] if "enum" in node else [node["const"]] if "const" in node else None
    if values:
        return _json_type(values[0])
    return "any"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _accepts_kind(new_kind: str, old_kind: str) -> bool:
    return new_kind in (old_kind, "any") or (new_kind, old_kind) == ("number", "integer")


def _describe(node: Schema) -> str:
    kind = _kind(node)
    return f"{kind} ({node['format']})" if "format" in node else kind


def _allowed_values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def _constraint_changes(old: Schema, new: Schema, path: str) -> list[Incompatibility]:
    issues: list[Incompatibility] = []

    def report(kind: str, detail: str) -> None:
        issues.append(Incompatibility(path, kind, detail))

    def tightened(key: str, detail: str) -> None:
        issues.append(
            Incompatibility(path, "constraint_tightened", detail, key, old.get(key), new[key])
        )

    if "format" in new and new["format"] != old.get("format"):
        report("type_changed", f"format changed from {old.get('format')} to {new['format']}")
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if new_values is not None:
        if old_values is None:
            report("constraint_tightened", f"now restricted to the values {new_values}")
        else:
            for value in old_values:
                if value not in new_values:
                    report("enum_value_removed", f"enum value {value!r} removed")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            tightened(key, f"{key} raised from {old.get(key)} to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            tightened(key, f"{key} lowered from {old.get(key)} to {new[key]}")
    for key in ("pattern", "multipleOf"):
        # Whether one regex accepts a superset of another is undecidable in practice.
        if key in new and new[key] != old.get(key):
            tightened(key, f"{key} changed from {old.get(key)!r} to {new[key]!r}")
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        report("constraint_tightened", "items must now be unique")
    for key in sorted(set(new) - _HANDLED - _ANNOTATIONS):
        if not key.startswith("x-") and new[key] != old.get(key):
            report("unsupported_change", f"keyword {key!r} changed; cannot judge compatibility")
    return issues
