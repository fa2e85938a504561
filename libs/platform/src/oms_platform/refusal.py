"""The one way a service says no: :class:`Refusal`, for deciders, handlers and routes alike.

A decider raises ``Refusal`` when a command contradicts the state (cancel after dispatch,
more refunded than captured, an unknown warehouse). Over HTTP it becomes an RFC 9457
problem (``oms_platform.http``) with ``status``; in a consumer it is a permanent failure and
the message is dead-lettered at once with ``code`` and ``reason`` in its headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """What is wrong with one field of a request: ``lines[0].quantity``, ``query:limit``."""

    field: str
    reason: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "code": self.code}


class Refusal(Exception):
    """A command that cannot be carried out as asked, and why.

    ``code`` is stable and machine-readable (``cancellation_refused``), ``reason`` is one
    sentence for people and never quotes personal data, ``field`` names the input at fault
    when there is one. ``status`` is the HTTP status it answers with: 409 (the state forbids
    it) unless given, 404 for something that does not exist, 422 for input that is well
    formed but unacceptable. ``errors`` lists several field errors at once; ``extra`` adds
    members to the problem body (e.g. the id of the order a reused key belongs to).
    """

    def __init__(
        self,
        code: str,
        reason: str,
        field: str | None = None,
        *,
        status: int = 409,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.field = field
        self.status = status
        self.errors = tuple(errors)
        self.extra = dict(extra or {})

    def field_errors(self) -> list[FieldError]:
        """The per-field errors, the refusal's own ``field`` first when it has one."""
        own = [FieldError(self.field, self.reason, self.code)] if self.field else []
        return own + [e for e in self.errors if e not in own]

    @classmethod
    def not_found(cls, code: str, reason: str, field: str | None = None) -> Refusal:
        return cls(code, reason, field, status=404)

    @classmethod
    def invalid(cls, code: str, reason: str, field: str | None = None, **kwargs: Any) -> Refusal:
        return cls(code, reason, field, status=422, **kwargs)

    def __repr__(self) -> str:
        return f"Refusal({self.code!r}, {self.reason!r}, field={self.field!r})"
