"""The returns domain: pure deciders and rules, no I/O."""
