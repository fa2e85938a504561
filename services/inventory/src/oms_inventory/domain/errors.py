"""Why a command is refused; the API turns these into 404 and 409 answers."""

from __future__ import annotations


class Rejected(Exception):
    """The command cannot be carried out as asked; ``reason`` says why, for people."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(Rejected):
    """The command names a SKU, warehouse, promotion or reservation that does not exist."""


class Conflict(Rejected):
    """The command contradicts the current state (stock would go negative, duplicates)."""
