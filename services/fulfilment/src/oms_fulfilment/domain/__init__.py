"""The fulfilment domain: pure deciders and rules, no I/O."""
