"""OMS event contracts."""
