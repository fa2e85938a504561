"""The OMS order service."""
