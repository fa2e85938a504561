"""The shipping service's business rules, free of I/O.

- ``carriers``: PostNL, DHL, DPD and UPS as data (services, zones, weight bands,
  surcharges, cut-offs, transit days; illustrative figures);
- ``calendar``: working days, cut-offs, collection and delivery dates;
- ``rates``: rate shopping, the cheapest service that keeps the promise, explained;
- ``tracking``: tracking numbers in each carrier's format, with check digits;
- ``webhooks``: carrier webhook signatures (HMAC-SHA256) and status updates;
- ``shipment``: :data:`~shipment.SHIPMENT`, the decider of one parcel
  (``shipment-<id>``); ``commands``: what it is asked.
"""
