"""The payments domain: pure state, evolve and decide functions (no I/O, no clock)."""
