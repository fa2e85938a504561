"""No committed contract schema leaves an input unbounded, and every pattern is portable.

The schemas are what other languages and schema-driven generators (hypothesis,
schemathesis) see, so the bounds must be in them, not only in Python validators: every
integer has a range, every list a maximum size, every string a length and a pattern that
refuses control characters. Each pattern must mean the same in Python ``re`` and in Rust
``regex`` (pydantic-core validates with the latter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import SchemaValidator, core_schema

from oms_events.limits import MULTI_LINE_PATTERN
from oms_events.registry import registry
from oms_events.schemas import load_committed

SCHEMAS = {f"{c.event_type}.v{c.event_version}": load_committed(c) or {} for c in registry}


def nodes(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema that names a type, with where it is."""
    if isinstance(schema, dict):
        if "type" in schema:
            yield path, schema
        for key, value in schema.items():
            yield from nodes(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from nodes(value, f"{path}/{i}")


TYPED = [(name, path, node) for name, schema in SCHEMAS.items() for path, node in nodes(schema)]
PATTERNS = sorted({node["pattern"] for _, _, node in TYPED if "pattern" in node})
_CLASS = re.compile(r"\[(?:\\.|[^\]])*\]")
_UNBOUNDED = re.compile(r"[+*]|\{\d+,\}")


def unbounded(problems: list[str], kind: str) -> None:
    assert not problems, f"unbounded {kind}:\n" + "\n".join(problems)


def test_every_integer_has_a_range() -> None:
    problems = []
    for name, path, node in TYPED:
        if node["type"] in ("integer", "number"):
            for side in ("maximum", "minimum"):
                if not {side, f"exclusive{side.title()}"} & set(node):
                    problems.append(f"{name}{path}: no {side}")
    unbounded(problems, "numbers")


def test_every_list_has_a_maximum_size() -> None:
    unbounded(
        [
            f"{name}{path}"
            for name, path, node in TYPED
            if node["type"] == "array" and "maxItems" not in node
        ],
        "lists",
    )


def test_every_string_is_bounded_and_patterned() -> None:
    problems = []
    for name, path, node in TYPED:
        if node["type"] != "string" or {"enum", "const", "format"} & set(node):
            continue
        pattern = node.get("pattern")
        if pattern is None:
            problems.append(f"{name}{path}: no pattern")
        elif "maxLength" not in node and _UNBOUNDED.search(_CLASS.sub("", pattern)):
            problems.append(f"{name}{path}: neither maxLength nor a bounded pattern")
    unbounded(problems, "strings")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_compile_in_python_and_in_rust(pattern: str) -> None:
    re.compile(pattern)
    validator = SchemaValidator(core_schema.str_schema(pattern=pattern, regex_engine="rust-regex"))
    with pytest.raises(ValueError, match="should match pattern"):
        validator.validate_python("\x00")


@pytest.mark.parametrize("pattern", PATTERNS)
@given(data=st.data())
def test_patterns_refuse_control_characters(pattern: str, data: st.DataObject) -> None:
    valid = data.draw(st.from_regex(pattern, fullmatch=True), label="valid")
    assert re.fullmatch(pattern, valid)
    at = data.draw(st.integers(0, len(valid)), label="at")
    controls = "\x00\x1b\x7f\x85\x9f" + ("" if pattern == MULTI_LINE_PATTERN else "\t\n\r")
    control = data.draw(st.sampled_from(controls), label="control")
    assert not re.fullmatch(pattern, valid[:at] + control + valid[at:])
