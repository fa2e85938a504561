"""SQLAlchemy engines on psycopg 3: one pool per service database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(dsn: str) -> str:
    """Accept a plain ``postgresql://`` DSN and name the psycopg 3 async driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL DSN: {dsn.split('@')[-1]!r}")


def create_engine(dsn: str, *, pool_size: int = 10, application_name: str = "oms") -> AsyncEngine:
    return create_async_engine(
        async_url(dsn),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # After a PostgreSQL restart every pooled connection is dead; a ping on checkout
        # replaces it instead of failing the next unit of work.
        pool_pre_ping=True,
        connect_args={"application_name": application_name},
    )
