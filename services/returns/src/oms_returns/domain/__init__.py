"""The returns domain: pure deciders and rules, no I/O, no clock, no randomness.

- ``returns``: :data:`~returns.RETURN`, one return (``return-<rma>``): request decided
  against what the order delivered and the return window, receipt, expiry;
- ``resolution``: what a received return comes to (refund of the accepted units, shipping
  by the shop's rule, the split over the payments, restock and write-off, order status);
- ``policy``: the settings (return window, refund rules); ``rma``: RMA numbers;
- ``commands``: what the decider is asked, and the plain values about the order it needs.
"""
