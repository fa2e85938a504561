"""The read models computed from the event store on every query (no tables).

For a host on the in-memory store (HTTP tests without a database). Nothing is written
besides events, so nothing can drift from them: each lookup folds every order stream
again, which is fine for a test's few orders and never used in production. Only the
catalogue of known SKUs is held here (it mirrors another service's events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from oms_events.registry import registry
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState, OrderStatus
from oms_order.projections.order_view import summary_row
from oms_order.projections.read_models import Doc, OrderQuery, Stalled, summary_doc
from oms_order.streams import ORDER_STREAM_PREFIX
from oms_platform.decider import fold
from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.eventstore.model import START, RecordedEvent

_PAGE = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DerivedReadModels:
    """:class:`~oms_order.projections.read_models.ReadModels` folded from ``store``."""

    def __init__(
        self,
        store: EventStore,
        *,
        known_skus: Iterable[str] = (),
        check_skus: bool = True,
        stall_after_s: float = 60.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.known_skus = set(known_skus)
        self.check_skus = check_skus
        self.stall_after_s = stall_after_s
        self.clock = clock

    async def save_order(self, uow: UnitOfWork, state: OrderState) -> None:
        """Nothing to save: lookups fold the order streams themselves."""

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]:
        return set(skus) - self.known_skus if self.check_skus else set()

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        self.known_skus.add(sku)

    async def find_orders(self, query: OrderQuery) -> list[Doc]:
        rows = [row for row in await self._rows() if self._matches(row, query)]
        rows.sort(key=lambda r: r["order_id"])
        rows.sort(key=lambda r: r["updated_at"], reverse=True)
        return [summary_doc(row) for row in rows[: query.limit]]

    async def stalled(self, limit: int = 5) -> Stalled:
        rows = sorted(
            (row for row in await self._rows() if self._is_stalled(row)),
            key=lambda r: (r["recorded_at"], r["order_id"]),
        )
        if not rows:
            return Stalled(0, [], None)
        waited = (self.clock() - rows[0]["recorded_at"]).total_seconds()
        return Stalled(len(rows), [r["order_id"] for r in rows[:limit]], waited)

    def _matches(self, row: Doc, query: OrderQuery) -> bool:
        for col in ("platform_order_ref", "sales_channel", "status", "customer_id"):
            wanted = getattr(query, col)
            if wanted is not None and row[col] != wanted:
                return False
        return query.stalled is None or query.stalled == self._is_stalled(row)

    def _is_stalled(self, row: Doc) -> bool:
        cutoff = self.clock() - timedelta(seconds=self.stall_after_s)
        return bool(row["status"] == OrderStatus.PLACED.value and row["recorded_at"] < cutoff)

    async def _rows(self) -> list[Doc]:
        """An ``orders`` row per order stream, as the SQL table would hold it."""
        streams: dict[str, list[RecordedEvent]] = {}
        after = START
        while page := await self.store.read_all(after, _PAGE):
            for rec in page:
                if rec.envelope.stream_id.startswith(ORDER_STREAM_PREFIX):
                    streams.setdefault(rec.envelope.stream_id, []).append(rec)
            after = page[-1].commit_position
        rows = []
        for records in streams.values():
            state = fold(order_decider, (registry.parse(r.envelope) for r in records))
            if state.exists:
                row = summary_row(state)
                row["recorded_at"] = records[0].recorded_at
                row["updated_at"] = records[-1].recorded_at
                rows.append(row)
        return rows
