"""Payment provider adapters: the port (``base``) and the deterministic sandboxes."""
