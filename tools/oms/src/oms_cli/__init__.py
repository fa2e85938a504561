"""The oms command."""
