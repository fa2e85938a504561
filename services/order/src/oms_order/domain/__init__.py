"""The order domain (pure): the order aggregate as a decider (``order.OrderDecider``), its
commands and state, and intake (reviewing submissions, intake keys)."""
