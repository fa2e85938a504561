"""The OMS inventory service."""
