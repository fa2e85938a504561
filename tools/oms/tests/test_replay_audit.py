"""The pure parts of `oms replay` and `oms audit`: what a rebuild covers, how rows are
folded and written, time and id arguments, the export formats and an order's state
folded from its events (no database)."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oms_cli import audit
from oms_cli.audit import AuditError, StoredEvent
from oms_cli.config import StackConfig
from oms_cli.main import app
from oms_events.base import Event
from oms_events.examples import example
from oms_events.registry import envelope_for, latest, payload_of
from oms_operations.projections import runner
from oms_operations.projections.tables import SHIPMENTS
from oms_operations.replay import Fold, ReplayError, _document, plan, projection_names
from oms_platform.testing.keys import (
    TEST_ANCHOR_PRIVATE_PEM,
    TEST_ANCHOR_PUBLIC_PEM,
    TEST_CHAIN_KEY_HEX,
)

T0 = datetime(2026, 5, 3, 12, 0, tzinfo=UTC)


def make(type_name: str, **changes: Any) -> Event:
    cls = latest(type_name)
    return cls.model_validate({**example(cls).model_dump(), **changes})


def stored(event: Event, at: datetime, service: str = "shipping", n: int = 1) -> StoredEvent:
    env = envelope_for(
        event,
        stream_id=f"s-{n}",
        stream_version=1,
        correlation_id=str(getattr(event, "order_id")),  # noqa: B009
        causation_id=None,
        actor="service:test",
        producer=service,
        occurred_at=at,
    )
    return StoredEvent(
        service, n, str(env.event_id), env.stream_id, 1, env.type, env.version, at, at,
        env.actor, env.producer, env.correlation_id, None, json.dumps(payload_of(event)),
    )  # fmt: skip


# ---------------------------------------------------------------------------- plan


def test_a_projection_comes_with_the_other_models_of_its_consumer() -> None:
    feedback = plan(["feedback"])
    assert list(feedback.consumers) == ["orders"]
    assert feedback.tables == [m.table for m in runner.CONSUMERS["orders"]]
    assert "ops_feedback" in feedback.tables and "ops_orders" in feedback.tables
    assert plan(["ops_shipments"]).services == ["shipping"]
    assert plan(["shipments"]).types_of("shipments") >= {"ShipmentBooked", "ShipmentLost"}


def test_all_means_every_consumer_and_an_unknown_name_is_refused() -> None:
    assert list(plan(["all"]).consumers) == list(runner.CONSUMERS)
    assert plan(None).tables == plan(["all"]).tables
    assert set(projection_names()) >= {"orders", "shipments", "returns", "feedback"}
    with pytest.raises(ReplayError, match="unknown projection ops_nothing"):
        plan(["ops_nothing"])


# ---------------------------------------------------------------------------- fold


def test_the_fold_applies_events_to_rows_as_the_live_runner_does() -> None:
    common = {"order_id": "ord-1", "shipment_id": "shp-1", "carrier": "dhl"}
    fold = Fold([SHIPMENTS])
    for n, event in enumerate(
        [
            make("ShipmentBooked", **common),
            make("ShipmentDispatched", **common),
            make("ShipmentDeliveryFailed", **common, attempt=1),
            make("ShipmentDeliveryFailed", **common, attempt=2),
            make("OrderPlaced", order_id="ord-1"),  # not a shipping event: no row
        ]
    ):
        row = stored(event, T0 + timedelta(hours=n))
        fold.apply(row.envelope(), event)
    [(key, row)] = fold.rows["ops_shipments"].items()
    assert key == ("shp-1",)
    assert (row.status, row.carrier, row.failed_attempts) == ("delivery_failed", "dhl", 2)


@dataclass(frozen=True)
class _Line:
    sku: str
    units: int


@dataclass(frozen=True)
class _Row:
    id: uuid.UUID
    amount: Decimal
    at: datetime
    day: date
    tags: tuple[str, ...]
    lines: tuple[_Line, ...]
    note: str | None


def test_rows_are_written_as_json_the_database_reads_exactly() -> None:
    class Model:
        columns = ["id", "amount", "at", "day", "tags", "lines", "note"]

    row = _Row(
        uuid.UUID(int=7),
        Decimal("5.10"),
        datetime(2026, 5, 3, 14, 2, tzinfo=timezone(timedelta(hours=2))),
        date(2026, 5, 4),
        ("AMS", "BER"),
        (_Line("MUG", 2),),
        None,
    )
    [doc] = json.loads(_document(Model(), [row]))  # type: ignore[arg-type]
    assert doc == {
        "id": "00000000-0000-0000-0000-000000000007",
        "amount": "5.10",
        "at": "2026-05-03T14:02:00+02:00",
        "day": "2026-05-04",
        "tags": ["AMS", "BER"],
        "lines": [{"sku": "MUG", "units": 2}],
        "note": None,
    }
    with pytest.raises(TypeError, match="cannot write object"):
        _document(Model(), [_Row(object(), *list(row.__dict__.values())[1:])])  # type: ignore[arg-type]


# ------------------------------------------------------------------------ arguments


def test_times_are_iso_utc_unless_given_and_a_date_alone_is_a_whole_day() -> None:
    assert audit.parse_time("2026-05-03") == datetime(2026, 5, 3, tzinfo=UTC)
    assert audit.parse_time("2026-05-03", end=True) == datetime(2026, 5, 4, tzinfo=UTC)
    assert audit.parse_time("2026-05-03T14:02") == datetime(2026, 5, 3, 14, 2, tzinfo=UTC)
    cest = audit.parse_time("2026-05-03T14:02:00+02:00")
    assert cest == datetime(2026, 5, 3, 12, 2, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "", "2026-05-03T25:00"):
        with pytest.raises(AuditError, match="not an ISO 8601"):
            audit.parse_time(bad)


def test_ids_are_bounded_single_lines() -> None:
    assert audit.check_id("ord-1") == "ord-1"
    for bad in ("", "x" * 201, "ord\n1", "ord\x001"):
        with pytest.raises(AuditError):
            audit.check_id(bad)


def test_databases_default_to_the_stack_and_db_options_replace_them() -> None:
    config = StackConfig()
    found = audit.databases(["order=postgresql://u:p@h:1/o"], ["order", "payments"], config)
    assert found == {"order": "postgresql://u:p@h:1/o", "payments": config.service_dsn("payments")}
    for bad in ("order", "nobody=postgresql://x", "order=mysql://x"):
        with pytest.raises(AuditError, match="SERVICE="):
            audit.databases([bad], ["order"], config)
    assert audit.pick(found, ["payments"]) == {"payments": found["payments"]}
    assert audit.pick(found, None) == found
    with pytest.raises(AuditError, match="unknown service returns"):
        audit.pick(found, ["returns"])


# --------------------------------------------------------------------------- export


def test_jsonl_and_csv_exports_read_back_to_the_same_events() -> None:
    event = make("ShipmentDeliveryFailed", reason='nobody home, "back at 5"\nnext day')
    rows = [stored(event, T0, n=1), stored(make("ShipmentBooked"), T0, n=2)]
    for fmt in ("jsonl", "csv"):
        out = io.StringIO()
        assert audit.write_export(iter(rows), out, fmt) == 2
        back = audit.read_export(out.getvalue(), fmt)
        assert [r["payload"] for r in back] == [json.loads(r.payload) for r in rows]
        assert [(r["event_id"], r["stream_version"], r["causation_id"]) for r in back] == [
            (r.event_id, 1, None) for r in rows
        ]
        assert back[0]["occurred_at"] == T0.isoformat()
    with pytest.raises(AuditError, match="unknown format"):
        audit.write_export(iter(rows), io.StringIO(), "xml")


def test_a_json_line_carries_the_stored_payload_text_unchanged() -> None:
    row = stored(make("ShipmentBooked"), T0)
    text = StoredEvent(**{**row.__dict__, "payload": '{"amount": 1.10}'}).as_json_line()
    assert text.endswith(', "payload": {"amount": 1.10}}')
    assert json.loads(text)["stream_id"] == "s-1"


# ---------------------------------------------------------------------------- state


def test_an_orders_state_is_its_events_folded_through_the_read_models() -> None:
    parcel = {"order_id": "ord-1", "shipment_id": "shp-1", "carrier": "dhl"}
    history = [
        stored(make("OrderPlaced", order_id="ord-1"), T0, "order", 1),
        stored(make("OrderConfirmed", order_id="ord-1"), T0 + timedelta(hours=1), "order", 2),
        stored(make("ShipmentBooked", **parcel), T0 + timedelta(hours=2), "shipping", 3),
        stored(make("OrderShipped", **parcel), T0 + timedelta(hours=3), "order", 4),
    ]
    then = audit.state_of("ord-1", history[:2])
    assert then["orders"][0]["status"] == "confirmed" and "shipments" not in then
    now = audit.state_of("ord-1", history)
    assert now["orders"][0]["status"] == "shipped"
    assert now["orders"][0]["shipments"] == ["shp-1"]
    assert now["shipments"][0]["status"] == "booked"
    assert "timeline" not in now  # shown as the timeline, not as state
    assert audit.state_of("ord-2", history) == {}


# ------------------------------------------------------------------ verify's keys


def test_the_chain_key_file_must_hold_a_hex_key(tmp_path: Path) -> None:
    good = tmp_path / "chain.key"
    good.write_text(TEST_CHAIN_KEY_HEX + "\n")
    assert audit.chain_key_of(good) == bytes.fromhex(TEST_CHAIN_KEY_HEX)
    short = tmp_path / "short.key"
    short.write_text("abcd")
    with pytest.raises(AuditError, match="at least 16 bytes"):
        audit.chain_key_of(short)
    with pytest.raises(AuditError, match="cannot read the chain key"):
        audit.chain_key_of(tmp_path / "absent.key")


def test_the_anchor_key_file_must_hold_an_ed25519_public_key(tmp_path: Path) -> None:
    pub = tmp_path / "anchor.pub.pem"
    pub.write_text(TEST_ANCHOR_PUBLIC_PEM)
    assert audit.anchor_public_key(pub) is not None
    private = tmp_path / "anchor.pem"
    private.write_text(TEST_ANCHOR_PRIVATE_PEM)  # the private key is not what verify takes
    with pytest.raises(AuditError, match="not a PEM public key"):
        audit.anchor_public_key(private)
    with pytest.raises(AuditError, match="cannot read the anchor public key"):
        audit.anchor_public_key(tmp_path / "absent.pem")


def test_verify_with_an_unreadable_key_exits_2_before_reading_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["audit", "verify", "--chain-key", str(tmp_path / "absent.key"), "--no-anchors"],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 2
    assert "cannot read the chain key" in result.output
