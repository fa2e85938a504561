"""The read models: one module per model, each a pure ``apply(row, envelope, event)``
over one small row (``None`` before its first event), and :mod:`.runner`, which loads the
row, applies the event and writes it back in the consumer's unit of work (with its inbox
row). Every ``apply`` is deterministic in the event sequence, so replaying a topic from
its beginning into empty tables gives the same rows."""
