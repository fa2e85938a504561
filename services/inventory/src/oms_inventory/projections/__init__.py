"""Read models over the inventory's own events, kept current by projection runners.

- ``stock_levels``: on hand, reserved and threshold per SKU and warehouse (lists, dashboards);
- ``demand``: units reserved per SKU, warehouse and day (sales velocity for promotions).

Each is a pure function from an event to row changes plus the SQL that applies them; the
runner writes the rows and its checkpoint in one transaction, and ``rebuild`` replays.
"""
