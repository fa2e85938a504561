"""Helpers of the OMS benchmark harness (bench/run.py)."""
