"""The fulfilment's business rules, free of I/O.

- ``fulfilment``: :data:`~fulfilment.FULFILMENT`, one warehouse's share of a confirmed
  order (``fulfilment-<id>``: requested, picked or short-picked, packed, cancelled), and
  :func:`~fulfilment.requests_for`, which splits a confirmed order per warehouse;
- ``cancellation``: an order's cancellation request answered over all its fulfilments
  (``cancellation-<order id>``: accepted, every fulfilment cancelled, or refused when one
  is packed);
- ``packaging``: the box catalogue (:data:`~packaging.BOXES`), the fitting rule and
  :func:`~packaging.choose_boxes` (cheapest box, or a deterministic greedy split);
- ``capacity``: units picked and packed per hour per warehouse (:data:`~capacity.CAPACITY`)
  and the hours a backlog is at that capacity;
- ``commands``: what the decider is asked.
"""
