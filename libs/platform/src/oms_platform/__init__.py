"""OMS platform runtime."""
