"""Each platform's own order payload -> ``OrderSubmitted``, exactly or not at all."""
