"""Every registered contract must stay backward compatible with its committed JSON Schema.

The committed files under ``libs/events/schemas/`` are the baseline: a contract change
that would reject payloads valid under its committed schema fails here. The fix is a new
contract version plus an upcaster, not an edited schema file. Compatible changes pass here
but make ``test_committed_schemas_are_up_to_date`` fail until the files are re-exported
(``uv run python -m oms_events.schemas export``), so the baseline moves with them.

A deliberate tightening (a bound against hostile input that no legitimate event comes near)
is the one exception: recorded with its reason in ``oms_events.reviewed_changes``, it counts
as compatible here and ``export`` moves the baseline; everything else is still checked.
"""

from __future__ import annotations

import pytest

from oms_events.base import Event
from oms_events.compat import check_compatibility, unreviewed
from oms_events.registry import registry
from oms_events.reviewed_changes import REVIEWED_CHANGES
from oms_events.schemas import DEFAULT_DIR, diff_schemas, load_committed, schema_for

CONTRACTS = list(registry)
IDS = [f"{c.event_type}.v{c.event_version}" for c in CONTRACTS]


def test_schema_directory_is_the_committed_one() -> None:
    assert DEFAULT_DIR.is_dir(), f"{DEFAULT_DIR} is missing"
    assert (DEFAULT_DIR / "OrderPlaced.v1.json").is_file()


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_contract_is_backward_compatible_with_its_committed_schema(
    contract: type[Event],
) -> None:
    committed = load_committed(contract)
    assert committed is not None, (
        f"{contract.event_type} v{contract.event_version} has no committed schema; run "
        "`uv run python -m oms_events.schemas export` and commit libs/events/schemas/"
    )
    issues = unreviewed(check_compatibility(committed, schema_for(contract)), REVIEWED_CHANGES)
    assert not issues, (
        f"{contract.event_type} v{contract.event_version} changed incompatibly; register a "
        f"new version with an upcaster instead:\n" + "\n".join(f"  {i}" for i in issues)
    )


def test_the_record_of_reviewed_changes_only_holds_reasoned_constraint_tightenings() -> None:
    ids = [change.id for change in REVIEWED_CHANGES]
    assert len(ids) == len(set(ids)), "reviewed change ids are unique"
    for change in REVIEWED_CHANGES:
        assert len(change.reason) > 100, f"{change.id}: say why it cannot break stored events"
        assert change.tightenings, f"{change.id}: lists what it accepts"
        for tightening in change.tightenings:
            # Only value constraints can be reviewed; structural breaks need a new version.
            assert tightening.keyword in {
                *("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"),
                *("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"),
                *("pattern", "multipleOf"),
            }, f"{change.id}: {tightening.keyword} cannot be reviewed away"


def test_committed_schemas_are_up_to_date() -> None:
    differences = diff_schemas()
    assert not differences, (
        "committed schemas differ from the contracts; run "
        "`uv run python -m oms_events.schemas export`:\n" + "\n".join(map(str, differences))
    )
