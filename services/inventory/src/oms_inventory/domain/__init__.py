"""The inventory's business rules, free of I/O: state, decide, evolve.

- ``allocation``: which warehouses serve an order (pure source selection);
- ``stock``: one SKU across warehouses (receipts, counts, transfers, thresholds);
- ``reservation``: an order's reservation, release and shipment;
- ``warehouses``, ``promotions``, ``geography``: the rest of the vocabulary.
"""
