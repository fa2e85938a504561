"""The fulfilment's business rules, free of I/O.

- ``fulfilment``: :data:`~fulfilment.FULFILMENT`, one warehouse's share of a confirmed
  order (``fulfilment-<id>``: requested, picked or short-picked, packed, cancelled), and
  :func:`~fulfilment.requests_for`, which splits a confirmed order per warehouse;
- ``packaging``: the box catalogue (:data:`~packaging.BOXES`), the fitting rule and
  :func:`~packaging.choose_boxes` (cheapest box, or a deterministic greedy split);
- ``commands``: what the decider is asked.
"""
