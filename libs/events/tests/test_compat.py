"""Unit tests for the schema compatibility checker, with schema pairs that pass and fail."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from oms_events.compat import (
    ReviewedChange,
    Tightening,
    check_compatibility,
    is_compatible,
    unreviewed,
)
from oms_events.money import Money


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(required),
    }


STR = {"type": "string"}
INT = {"type": "integer"}
NULLABLE_STR = {"anyOf": [STR, {"type": "null"}], "default": None}
BASE = obj(("order_id", "quantity"), order_id=STR, quantity=INT)


def kinds(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.path, i.kind) for i in check_compatibility(old, new)]


COMPATIBLE = {
    "identical": (BASE, BASE),
    "optional field added": (
        BASE,
        obj(("order_id", "quantity"), order_id=STR, quantity=INT, note=NULLABLE_STR),
    ),
    "only docs changed": (
        BASE,
        obj(("order_id", "quantity"), order_id={**STR, "description": "id"}, quantity=INT),
    ),
    "required field became optional": (BASE, obj(("order_id",), order_id=STR, quantity=INT)),
    "integer widened to number": (
        BASE,
        obj(("order_id", "quantity"), order_id=STR, quantity={"type": "number"}),
    ),
    "type made nullable": (
        BASE,
        obj(("order_id", "quantity"), order_id=NULLABLE_STR, quantity=INT),
    ),
    "enum value added": (
        obj(("m",), m={"type": "string", "enum": ["card", "ideal"]}),
        obj(("m",), m={"type": "string", "enum": ["card", "ideal", "paypal"]}),
    ),
    "constraint loosened": (
        obj(("s",), s={"type": "string", "maxLength": 10, "minLength": 2}),
        obj(("s",), s={"type": "string", "maxLength": 20}),
    ),
    "ref target renamed": (
        {"$defs": {"A": BASE}, **obj(("a",), a={"$ref": "#/$defs/A"})},
        {"$defs": {"B": BASE}, **obj(("a",), a={"$ref": "#/$defs/B", "description": "x"})},
    ),
    "array items widened": (
        obj(("xs",), xs={"type": "array", "items": INT, "minItems": 1}),
        obj(("xs",), xs={"type": "array", "items": {"anyOf": [INT, STR]}}),
    ),
}

INCOMPATIBLE = {
    "field removed": (BASE, obj(("order_id",), order_id=STR), [("quantity", "field_removed")]),
    "type changed": (
        BASE,
        obj(("order_id", "quantity"), order_id=INT, quantity=INT),
        [("order_id", "type_changed")],
    ),
    "number narrowed to integer": (
        obj(("x",), x={"type": "number"}),
        obj(("x",), x=INT),
        [("x", "type_changed")],
    ),
    "nullable made non-null": (
        obj(("n",), n=NULLABLE_STR),
        obj(("n",), n=STR),
        [("n", "type_changed")],
    ),
    "new required field": (
        BASE,
        obj(("order_id", "quantity", "sku"), order_id=STR, quantity=INT, sku=STR),
        [("sku", "new_required_field")],
    ),
    "optional field became required": (
        obj((), note=NULLABLE_STR),
        obj(("note",), note=NULLABLE_STR),
        [("note", "field_became_required")],
    ),
    "enum value removed": (
        obj(("m",), m={"type": "string", "enum": ["card", "ideal"]}),
        obj(("m",), m={"type": "string", "enum": ["card"]}),
        [("m", "enum_value_removed")],
    ),
    "format changed": (
        obj(("t",), t={"type": "string", "format": "date-time"}),
        obj(("t",), t={"type": "string", "format": "date"}),
        [("t", "type_changed")],
    ),
    "constraint tightened": (
        obj(("s",), s={"type": "string", "maxLength": 20}),
        obj(("s",), s={"type": "string", "maxLength": 10, "pattern": "^[A-Z]+$"}),
        [("s", "constraint_tightened"), ("s", "constraint_tightened")],
    ),
    "nested field removed via refs": (
        {
            "$defs": {"Line": obj(("sku", "qty"), sku=STR, qty=INT)},
            **obj(("lines",), lines={"type": "array", "items": {"$ref": "#/$defs/Line"}}),
        },
        {
            "$defs": {"Line": obj(("sku",), sku=STR)},
            **obj(("lines",), lines={"type": "array", "items": {"$ref": "#/$defs/Line"}}),
        },
        [("lines[].qty", "field_removed")],
    ),
    "object closed to additional properties": (
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {}, "additionalProperties": False},
        [("", "constraint_tightened")],
    ),
    "unknown keyword added": (
        obj(("x",), x=INT),
        obj(("x",), x={**INT, "not": {"const": 3}}),
        [("x", "unsupported_change")],
    ),
}


@pytest.mark.parametrize(("old", "new"), COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_pairs(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert check_compatibility(old, new) == []
    assert is_compatible(old, new)


@pytest.mark.parametrize(("old", "new", "expected"), INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_incompatible_pairs(
    old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert kinds(old, new) == expected
    assert not is_compatible(old, new)


def test_messages_are_readable() -> None:
    (issue,) = check_compatibility(BASE, obj(("order_id", "quantity"), order_id=INT, quantity=INT))
    assert str(issue) == "order_id: string is no longer accepted (now integer)"


def test_recursive_schemas_terminate() -> None:
    tree = {
        "$defs": {
            "Node": obj(
                ("children",), children={"type": "array", "items": {"$ref": "#/$defs/Node"}}
            )
        },
        "$ref": "#/$defs/Node",
    }
    assert check_compatibility(tree, tree) == []


# --- the same rules on schemas generated by pydantic, as the contract test uses them ------


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Colour2(StrEnum):
    RED = "red"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid")


class V1(Frozen):
    item_id: str
    price: Money
    colour: Colour
    at: AwareDatetime


class V1WithOptional(V1):
    gift_note: str | None = None
    tags: tuple[str, ...] = ()


class V1PriceAsFloat(Frozen):
    item_id: str
    price: float
    colour: Colour
    at: AwareDatetime


class V1FewerColours(Frozen):
    item_id: str
    price: Money
    colour: Colour2
    at: AwareDatetime


class V1ShorterIds(Frozen):
    item_id: str = Field(max_length=8)
    price: Money
    colour: Colour
    at: AwareDatetime


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def test_pydantic_models_optional_additions_are_compatible() -> None:
    assert check_compatibility(schema(V1), schema(V1WithOptional)) == []


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (V1PriceAsFloat, [("price", "type_changed")]),
        (V1FewerColours, [("colour", "enum_value_removed")]),
        (V1ShorterIds, [("item_id", "constraint_tightened")]),
    ],
)
def test_pydantic_models_breaking_changes(
    new: type[BaseModel], expected: list[tuple[str, str]]
) -> None:
    assert kinds(schema(V1), schema(new)) == expected


# --- reviewed tightenings ------------------------------------------------------------------

LINES = obj(("lines",), lines={"type": "array", "items": INT})
BOUNDED_LINES = obj(("lines",), lines={"type": "array", "items": {**INT, "maximum": 9}})
BOUNDS = ReviewedChange(
    id="bounds",
    reason="reviewed: no event ever had more",
    tightenings=(Tightening("maximum", None, 9), Tightening("pattern", "^a+$", "^a{1,3}$")),
)


def test_tightened_bounds_carry_the_keyword_and_both_values() -> None:
    (issue,) = check_compatibility(LINES, BOUNDED_LINES)
    assert (issue.path, issue.kind) == ("lines[]", "constraint_tightened")
    assert (issue.keyword, issue.old, issue.new) == ("maximum", None, 9)
    assert str(issue) == "lines[]: maximum lowered from None to 9"


def test_a_reviewed_tightening_is_accepted_and_nothing_else() -> None:
    assert unreviewed(check_compatibility(LINES, BOUNDED_LINES), [BOUNDS]) == []
    patterned = (
        obj(("s",), s={**STR, "pattern": "^a+$"}),
        obj(("s",), s={**STR, "pattern": "^a{1,3}$"}),
    )
    assert unreviewed(check_compatibility(*patterned), [BOUNDS]) == []
    # The same keyword with other values, a later change of the bound, or a removed field
    # were not reviewed.
    other = obj(("lines",), lines={"type": "array", "items": {**INT, "maximum": 8}})
    assert [i.detail for i in unreviewed(check_compatibility(LINES, other), [BOUNDS])] == [
        "maximum lowered from None to 8"
    ]
    assert unreviewed(check_compatibility(BOUNDED_LINES, other), [BOUNDS])
    removed = unreviewed(check_compatibility(BASE, obj(("order_id",), order_id=STR)), [BOUNDS])
    assert [i.kind for i in removed] == ["field_removed"]
    assert unreviewed(check_compatibility(LINES, BOUNDED_LINES), []) != []
