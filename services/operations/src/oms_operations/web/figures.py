"""Pure helpers turning the dashboards' figures into what the pages show: per-carrier
totals, chart data, readable durations, and a generic layout for any figures a section
has no hand-made table for (so a figure added to a query shows up without a template).

Every figure shown carries a stable ``data-figure`` name: ``<section>.<key>`` for a value,
``<section>.<key>.<row>.<column>`` for a table cell, where ``<row>`` joins the row's
leading text columns with ``/`` (``shipping.groups.dhl/standard/AMS/EUR.parcels``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Figures = Mapping[str, Any]
NONE = "\u2013"
"""What an absent figure shows (an en dash)."""


def duration(seconds: float | None) -> str:
    """``3725`` -> ``1 h 02 min``; ``None`` -> :data:`NONE`."""
    if seconds is None:
        return NONE
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"


def percent(rate: float | None) -> str:
    return NONE if rate is None else f"{rate * 100:.1f} %"


def show(value: Any) -> str:
    """A figure as text: money as ``12.50 EUR``, ``None`` as :data:`NONE`."""
    if value is None:
        return NONE
    if isinstance(value, Mapping):
        if "amount" in value and "currency" in value:
            return f"{value['amount']} {value['currency']}"
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or NONE
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def carrier_totals(groups: Iterable[Figures]) -> list[dict[str, Any]]:
    """The shipping groups (carrier x service x warehouse x currency) added up per carrier
    and currency: parcels, cost, charged, cost share of order value, late-delivery rate."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for g in groups:
        key = (str(g.get("carrier")), str(g.get("currency")))
        t = totals.setdefault(
            key,
            {
                "carrier": key[0],
                "currency": key[1],
                "parcels": 0,
                "cost": Decimal(0),
                "charged": Decimal(0),
                "order_value": Decimal(0),
                "delivered": 0,
                "late": 0,
            },
        )
        t["parcels"] += int(g.get("parcels") or 0)
        t["cost"] += _dec(g.get("cost"))
        t["charged"] += _dec(g.get("charged"))
        t["order_value"] += _dec(g.get("order_value"))
        t["delivered"] += int(g.get("delivered") or 0)
        t["late"] += int(g.get("late") or 0)
    rows = []
    for _, t in sorted(totals.items()):
        share = t["cost"] / t["order_value"] if t["order_value"] else None
        rows.append(
            {
                **t,
                "cost": str(t["cost"]),
                "charged": str(t["charged"]),
                "order_value": str(t["order_value"]),
                "cost_share_of_order_value": None if share is None else round(float(share), 4),
                "late_delivery_rate": round(t["late"] / t["delivered"], 4)
                if t["delivered"]
                else None,
            }
        )
    return rows


def chart(kind: str, title: str, labels: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A Chart.js configuration (one data set), embedded in the page as JSON."""
    return {
        "type": kind,
        "data": {
            "labels": list(labels),
            "datasets": [{"label": title, "data": [float(_dec(v)) for v in values]}],
        },
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "plugins": {"legend": {"display": kind in ("doughnut", "pie")}},
        },
    }


def lines_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    """A Chart.js line chart with one data set per series (e.g. backlog per warehouse)."""
    config = chart("line", title, labels, [])
    config["data"]["datasets"] = [
        {"label": name, "data": [float(_dec(v)) for v in values]} for name, values in series.items()
    ]
    config["options"]["plugins"]["legend"]["display"] = True
    return config


# -- the generic layout ----------------------------------------------------------------


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | Decimal | bool)


def _is_money(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"amount", "currency"}


@dataclass
class Table:
    name: str
    """The figure name of the table (``section.key``)."""
    columns: list[str]
    rows: list[tuple[str, list[Any]]]
    """(row name, cells in column order)."""


@dataclass
class Block:
    """One key of a section: values (name -> value), a list of texts, or a table."""

    title: str
    values: list[tuple[str, Any]] = field(default_factory=list)
    table: Table | None = None
    items: list[tuple[str, Any]] = field(default_factory=list)


def row_name(row: Mapping[str, Any]) -> str:
    """A table row's stable name: its leading text columns (up to the first figure)
    joined with ``/``: ``dhl/standard/AMS/EUR`` for a shipping group."""
    parts = []
    for value in row.values():
        if not isinstance(value, str) or _looks_numeric(value):
            break
        parts.append(value)
    return "/".join(parts) or "row"


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for a table: nested mappings as ``key.sub`` columns; nested lists of rows
    (a series) left out, they are no cell's business."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping) and not _is_money(value):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            continue
        else:
            flat[key] = value
    return flat


def _table(name: str, rows: Sequence[Mapping[str, Any]]) -> Table:
    flat = [_flat(row) for row in rows]
    columns: list[str] = []
    for row in flat:
        columns += [c for c in row if c not in columns]
    seen: dict[str, int] = {}
    named = []
    for row in flat:
        base = row_name(row)
        seen[base] = seen.get(base, 0) + 1
        rid = base if seen[base] == 1 else f"{base}#{seen[base]}"
        named.append((rid, [row.get(c) for c in columns]))
    return Table(name, columns, named)


def _title(key: str, within: str) -> str:
    return f"{within} {key}".strip().replace("_", " ")


def layout(
    section: str, figures: Figures, skip: Iterable[str] = (), within: str = ""
) -> list[Block]:
    """Every key of ``figures`` but ``skip`` as blocks: scalars and money together first,
    then a table per list of rows (or mapping of rows), a list per list of texts; a nested
    mapping is laid out the same way under its name."""
    skipped = set(skip)
    values = Block(within or "figures")
    blocks: list[Block] = []
    for key, value in figures.items():
        if key in skipped:
            continue
        name = f"{section}.{key}"
        if _is_scalar(value) or _is_money(value):
            values.values.append((name, value))
        elif isinstance(value, list | tuple) and all(isinstance(r, Mapping) for r in value):
            blocks.append(Block(_title(key, within), table=_table(name, value)))
        elif isinstance(value, list | tuple):
            items = [(f"{name}.{i}", v) for i, v in enumerate(value)]
            blocks.append(Block(_title(key, within), items=items))
        elif (
            isinstance(value, Mapping)
            and value
            and all(isinstance(v, Mapping) for v in value.values())
        ):
            rows = [{key: str(k), **v} for k, v in value.items()]
            blocks.append(Block(_title(key, within), table=_table(name, rows)))
        elif isinstance(value, Mapping):
            blocks += layout(name, value, within=_title(key, within))
        else:
            values.values.append((name, value))
    return ([values] if values.values else []) + blocks
