"""Throw-away PostgreSQL databases for tests, created with an admin login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


def with_database(dsn: str, dbname: str) -> str:
    """``dsn`` pointing at database ``dbname`` instead."""
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def scratch_database(admin_dsn: str, label: str = "test") -> Iterator[str]:
    """Create an empty database, yield its DSN, drop it (even if connections remain)."""
    name = f"oms_{label}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
