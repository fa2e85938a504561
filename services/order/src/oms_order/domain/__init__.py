"""The order domain: pure state, commands, ``decide`` and ``evolve``."""
