"""Read models over the fulfilment's own events (projection runners, rebuildable)."""
