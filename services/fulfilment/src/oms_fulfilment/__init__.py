"""The OMS fulfilment service."""
