"""Unit tests for parse_json and check_depth: untrusted JSON in, JsonRejected or a value out."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms_events.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, JsonRejected, check_depth, parse_json


def nested_lists(depth: int) -> Any:
    """``[[...[]...]]`` with ``depth`` lists, built without recursion."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_objects(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def rejected(raw: bytes | str) -> str:
    with pytest.raises(JsonRejected) as caught:
        parse_json(raw)
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, "x", null, true, false, {}]}', "[]", '"Grüße 🎁"', "0", "-1.5e3", " {} "],
)
def test_valid_json_reads_as_the_standard_library_reads_it(text: str) -> None:
    assert parse_json(text) == json.loads(text)
    assert parse_json(text.encode()) == json.loads(text)


# -- depth ------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [nested_lists, nested_objects])
def test_nesting_up_to_the_limit_is_accepted_one_more_is_not(build: Any) -> None:
    at_limit = json.dumps(build(MAX_JSON_DEPTH))
    assert parse_json(at_limit) == build(MAX_JSON_DEPTH)
    check_depth(build(MAX_JSON_DEPTH))
    reason = rejected(json.dumps(build(MAX_JSON_DEPTH + 1)))
    assert reason == "nested deeper than 32 arrays and objects"
    with pytest.raises(JsonRejected, match="nested deeper than 32"):
        check_depth(build(MAX_JSON_DEPTH + 1))


def test_depth_counts_containers_only() -> None:
    check_depth("scalar")
    check_depth({"a": [{"b": [1, 2, {}]}] * 3})  # depth 5
    # Mixed arrays and objects count alike; the deepest branch decides.
    mixed = [{"a": nested_lists(MAX_JSON_DEPTH - 2)}, []]
    check_depth(mixed)
    with pytest.raises(JsonRejected):
        check_depth([[], {"a": [{"b": nested_lists(MAX_JSON_DEPTH - 3)}]}])


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize(
    ("opening", "closing"), [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")]
)
def test_very_deep_documents_are_rejected_not_a_recursion_error(
    depth: int, opening: bytes, closing: bytes
) -> None:
    # The same reason as one level too deep, however far beyond the limit it goes.
    assert rejected(opening * depth + closing * depth) == "nested deeper than 32 arrays and objects"
    assert rejected(opening * depth) == "nested deeper than 32 arrays and objects"  # unclosed


def test_very_deep_python_values_and_cycles_are_rejected() -> None:
    with pytest.raises(JsonRejected):
        check_depth(nested_lists(100_000))
    with pytest.raises(JsonRejected):
        check_depth(nested_objects(100_000))
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(JsonRejected):
        check_depth(loop)


# -- bytes, syntax, constants -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "not UTF-8: invalid start byte at byte 0"),
        (b'{"a": "\xc3"}', "not UTF-8: invalid continuation byte at byte 7"),
        ('"\ud800"', "not UTF-8: surrogates not allowed at character 1"),
        (b"", "not valid JSON"),
        (b"   ", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"[1,]", "not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a byte order mark
        (b'"\\ud800"', "not valid JSON"),  # an escaped lone surrogate
        (b"NaN", "not valid JSON"),
        (b"Infinity", "not valid JSON"),
        (b"-Infinity", "not valid JSON"),
        (b'{"amount": NaN}', "not valid JSON"),
        (b"[1, Infinity]", "not valid JSON"),
        (b'{"a": -Infinity}', "not valid JSON"),
    ],
)
def test_what_is_not_json_is_rejected_with_a_reason(raw: bytes | str, reason: str) -> None:
    assert rejected(raw).startswith(reason)


def test_reasons_never_quote_the_input() -> None:
    reason = rejected(b'{"email": "secret.person@example.com", oops}')
    assert "secret" not in reason


def test_only_bytes_and_str_are_parsed() -> None:
    with pytest.raises(JsonRejected, match="of type bytearray, not bytes or str"):
        parse_json(bytearray(b"{}"))  # type: ignore[arg-type]


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63), 0, 9.2e18, -9.2e18, 1.5, 5e-324])
def test_numbers_within_the_signed_64_bit_range_are_accepted(number: float) -> None:
    assert parse_json(json.dumps({"n": number})) == {"n": number}


@pytest.mark.parametrize(
    "literal",
    [
        b"9223372036854775808",  # 2**63
        b"18446744073709551615",  # 2**64 - 1: an int to orjson, beyond signed 64 bits
        b"18446744073709551616",  # 2**64: orjson would read a float
        b"-9223372036854775809",
        b"1" + b"0" * 309,  # the quantity that once wedged the system
        b"1e19",
        b"-1e19",
        b"1e309",  # overflows to infinity
        b"-1e400",
        b"1" + b"0" * 400 + b".0",
    ],
)
def test_numbers_beyond_the_signed_64_bit_range_are_rejected(literal: bytes) -> None:
    reason = rejected(b'{"lines": [{"quantity": ' + literal + b"}]}")
    assert reason == "out of range: a number is outside the signed 64-bit range"
    assert rejected(literal) == reason


@pytest.mark.parametrize(
    ("document", "location"),
    [
        (
            b'{"lines": [{"quantity": 1}, {"quantity": 1' + b"0" * 309 + b"}]}",
            ("lines", 1, "quantity"),
        ),
        (b'{"lines": [{"quantity": 1e309}]}', ("lines", 0, "quantity")),
        (b'{"a": {"b": 18446744073709551616}}', ("a", "b")),
        (b"[0, 9223372036854775808, 1e400]", (1,)),
        (b"1" + b"0" * 5000, ()),
    ],
)
def test_a_refused_number_is_located(document: bytes, location: tuple[str | int, ...]) -> None:
    with pytest.raises(JsonRejected) as caught:
        parse_json(document)
    assert caught.value.reason == "out of range: a number is outside the signed 64-bit range"
    assert caught.value.location == location


def test_other_refusals_have_no_location() -> None:
    # Including a number orjson cannot read when the rest of the document is unreadable too.
    for document in [b"{", b"[" * 40 + b"]" * 40, b"\xff", b'{"a": 1e400, "b": ' + b"[" * 5000]:
        with pytest.raises(JsonRejected) as caught:
            parse_json(document)
        assert caught.value.location is None


# -- size -------------------------------------------------------------------------------


def test_documents_up_to_the_size_limit_are_accepted_one_byte_more_is_not() -> None:
    at_limit = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(at_limit) == MAX_BODY_BYTES
    assert parse_json(at_limit) == "x" * (MAX_BODY_BYTES - 2)
    assert rejected(at_limit + b" ") == "larger than 1048576 bytes"
    with pytest.raises(JsonRejected, match="larger than 4 bytes"):
        parse_json(b"[1,2]", max_bytes=4)


# -- anything at all --------------------------------------------------------------------


def only_json_rejected(raw: bytes | str) -> None:
    # Any other exception (RecursionError, TypeError, OverflowError...) fails the test.
    with contextlib.suppress(JsonRejected):
        parse_json(raw)


@given(st.binary(max_size=300))
def test_random_bytes_give_a_value_or_json_rejected(raw: bytes) -> None:
    only_json_rejected(raw)


@given(st.text(alphabet='[]{}",:0123456789.eE+-ntrufalsNIy \\u\n\x00\ud800é', max_size=300))
def test_json_like_text_gives_a_value_or_json_rejected(raw: str) -> None:
    only_json_rejected(raw)
    if "\ud800" not in raw:
        only_json_rejected(raw.encode())


@given(st.recursive(st.integers() | st.floats() | st.text(), lambda c: st.lists(c), max_leaves=30))
def test_serialised_values_give_a_value_or_json_rejected(value: Any) -> None:
    only_json_rejected(json.dumps(value))
