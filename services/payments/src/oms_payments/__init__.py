"""The OMS payments service."""
