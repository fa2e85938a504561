"""Unit tests for schema export/check, on a temporary directory and a private registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field

from oms_events.base import Event
from oms_events.compat import ReviewedChange, Tightening
from oms_events.money import Money
from oms_events.registry import Registry
from oms_events.schemas import (
    SchemaExportRefused,
    diff_schemas,
    export_schemas,
    main,
    schema_for,
)


class RefundV1(Event, type_name="Refund", version=1):
    """A refund."""

    refund_id: str
    amount: Money


class RefundWithNote(Event, type_name="Refund", version=1):
    """A refund, now with an optional note."""

    refund_id: str
    amount: Money
    note: str | None = None


class RefundWithoutAmount(Event, type_name="Refund", version=1):
    """A refund that lost its amount."""

    refund_id: str


class RefundWithBoundedId(Event, type_name="Refund", version=1):
    """A refund whose id is now at most 10 characters long."""

    refund_id: str = Field(max_length=10)
    amount: Money


REVIEWED = ReviewedChange(
    id="refund-ids",
    reason="no refund id was ever longer",
    tightenings=(Tightening("maxLength", None, 10),),
)


def registry_of(*classes: type[Event]) -> Registry:
    reg = Registry()
    for cls in classes:
        reg.register(cls)
    return reg


def test_schema_for_describes_the_wire_format() -> None:
    schema = schema_for(RefundV1)
    assert schema["title"] == "Refund"
    assert schema["x-oms-event-type"] == "Refund"
    assert schema["x-oms-event-version"] == 1
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["$defs"]["Money"]["properties"]["amount"]["type"] == "string"
    assert schema["additionalProperties"] is False


def test_export_then_check_is_clean(tmp_path: Path) -> None:
    reg = registry_of(RefundV1)
    assert [d.status for d in diff_schemas(tmp_path, reg)] == ["missing"]
    assert export_schemas(tmp_path, reg) == [tmp_path / "Refund.v1.json"]
    assert json.loads((tmp_path / "Refund.v1.json").read_text())["title"] == "Refund"
    assert diff_schemas(tmp_path, reg) == []
    assert export_schemas(tmp_path, reg) == [], "unchanged files are not rewritten"


def test_compatible_change_is_reported_then_exported(tmp_path: Path) -> None:
    export_schemas(tmp_path, registry_of(RefundV1))
    reg = registry_of(RefundWithNote)
    (difference,) = diff_schemas(tmp_path, reg)
    assert difference.status == "outdated"
    assert difference.incompatibilities == ()
    assert '+    "note": {' in difference.diff
    assert "compatible change" in str(difference)
    assert export_schemas(tmp_path, reg) == [tmp_path / "Refund.v1.json"]


def test_incompatible_change_is_not_exported_without_permission(tmp_path: Path) -> None:
    export_schemas(tmp_path, registry_of(RefundV1))
    before = (tmp_path / "Refund.v1.json").read_text()
    reg = registry_of(RefundWithoutAmount)
    with pytest.raises(SchemaExportRefused, match="amount: field removed"):
        export_schemas(tmp_path, reg)
    assert (tmp_path / "Refund.v1.json").read_text() == before
    assert export_schemas(tmp_path, reg, allow_breaking=True)
    assert diff_schemas(tmp_path, reg) == []


def test_files_without_a_contract_are_reported(tmp_path: Path) -> None:
    export_schemas(tmp_path, registry_of(RefundV1))
    (tmp_path / "Gone.v1.json").write_text("{}")
    differences = diff_schemas(tmp_path, registry_of(RefundV1))
    assert [(d.filename, d.status) for d in differences] == [("Gone.v1.json", "unregistered")]


def test_cli_on_the_default_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert "missing: OrderPlaced.v1.json" in capsys.readouterr().out
    assert main(["export", "--dir", str(tmp_path)]) == 0
    assert "schema file(s) written" in capsys.readouterr().out
    assert main(["check", "--dir", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out
    # Break a committed file: check flags it, export refuses to paper over it.
    path = tmp_path / "OrderPlaced.v1.json"
    committed = json.loads(path.read_text())
    committed["properties"]["legacy_field"] = {"type": "string"}
    path.write_text(json.dumps(committed))
    assert main(["check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "outdated: OrderPlaced.v1.json (INCOMPATIBLE)" in out
    assert "legacy_field: field removed" in out
    assert main(["export", "--dir", str(tmp_path)]) == 1
    assert "incompatible contract changes" in capsys.readouterr().err


def test_a_reviewed_tightening_is_exported_without_permission(tmp_path: Path) -> None:
    export_schemas(tmp_path, registry_of(RefundV1))
    reg = registry_of(RefundWithBoundedId)
    (difference,) = diff_schemas(tmp_path, reg, reviewed=[REVIEWED])
    assert difference.incompatibilities == ()
    assert [i.detail for i in difference.reviewed] == ["maxLength lowered from None to 10"]
    assert "reviewed tightening: 1 constraint(s)" in str(difference)
    with pytest.raises(SchemaExportRefused, match="refund_id: maxLength lowered"):
        export_schemas(tmp_path, reg, reviewed=[])
    assert export_schemas(tmp_path, reg, reviewed=[REVIEWED]) == [tmp_path / "Refund.v1.json"]
    assert diff_schemas(tmp_path, reg, reviewed=[]) == [], "the baseline moved"
