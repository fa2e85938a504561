"""Read models of the payments service."""
