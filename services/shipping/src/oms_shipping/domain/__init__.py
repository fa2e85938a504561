"""The shipping domain: pure deciders and rules, no I/O."""
