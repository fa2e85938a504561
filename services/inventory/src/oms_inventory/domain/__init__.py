"""The inventory's business rules, free of I/O: one decider per aggregate.

- ``warehouses``: :data:`~warehouses.WAREHOUSES`, the ``warehouses`` stream;
- ``stock``: :data:`~stock.SKU_STOCK`, one SKU across warehouses (``stock-<sku>``:
  registration, receipts, counts, transfers, thresholds);
- ``reservation``: :data:`~reservation.RESERVATION`, an order's reservation, release and
  shipment, deciding on the reservation and the stock of every SKU it touches at once;
- ``returns``: :data:`~returns.RETURN_BOOKING`, a return booked once;
- ``promotions``: :data:`~promotions.PROMOTION`, plus the readiness arithmetic;
- ``allocation``, ``geography``: which warehouses serve an order (pure source selection);
- ``commands``: what each decider is asked; ``refusals``: the shared refusal codes.
"""
