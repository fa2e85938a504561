"""Exceptions raised when a message does not honour its event contract.

Every error a *message* can cause derives from :class:`EventContractError`. The consumer
runtime catches that one base class and routes the message to the dead-letter topic,
putting :attr:`EventContractError.code` and :attr:`EventContractError.reason` in the
headers, so an operator can see why without decoding the payload.

:class:`RegistryError` is different: it signals a programming mistake while contracts are
being declared (for example the same type and version registered twice). It is raised at
import time and must crash the process rather than dead-letter anything.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

# Kafka headers are small by convention and the reason is for humans; a ContractViolation
# with dozens of errors is summarised instead of producing a multi-kilobyte header.
MAX_REASON_LENGTH = 1000
_MAX_LISTED_ERRORS = 5


class EventContractError(Exception):
    """Base class: a message cannot be turned into a valid event.

    ``code`` is a stable machine-readable tag (use it for metrics and DLQ headers);
    ``reason`` is a one-line, human-readable explanation that never contains payload values
    (they may be personal data such as e-mail addresses).
    """

    code: ClassVar[str] = "event_contract_error"

    def __init__(
        self, reason: str, *, type_name: str | None = None, version: int | None = None
    ) -> None:
        if len(reason) > MAX_REASON_LENGTH:
            reason = reason[: MAX_REASON_LENGTH - 3] + "..."
        super().__init__(reason)
        self.reason = reason
        self.type_name = type_name
        self.version = version

    def headers(self) -> dict[str, str]:
        """Headers describing this error, for the dead-letter copy of the message."""
        headers = {"oms-error-code": self.code, "oms-error-reason": self.reason}
        if self.type_name is not None:
            headers["oms-event-type"] = self.type_name
        if self.version is not None:
            headers["oms-event-version"] = str(self.version)
        return headers


class MalformedMessage(EventContractError):
    """The bytes are not UTF-8 JSON, or the JSON is not a valid :class:`Envelope`."""

    code = "malformed_message"


class UnknownEventType(EventContractError):
    """No contract is registered under the envelope's ``type``."""

    code = "unknown_event_type"


class UnknownEventVersion(EventContractError):
    """The type is known but this version is not: newer than this code, or no upcaster path."""

    code = "unknown_event_version"


class ContractViolation(EventContractError):
    """The payload does not satisfy its contract (validation or upcasting failed).

    ``errors`` holds pydantic's structured errors (without input values) when the cause was
    a :class:`pydantic.ValidationError`, for programmatic inspection in tests and tools.
    """

    code = "contract_violation"

    def __init__(
        self,
        reason: str,
        *,
        type_name: str | None = None,
        version: int | None = None,
        errors: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(reason, type_name=type_name, version=version)
        self.errors: list[dict[str, object]] = errors or []

    @classmethod
    def from_validation_error(
        cls, err: ValidationError, *, type_name: str, version: int, note: str = ""
    ) -> ContractViolation:
        """Summarise ``err`` as ``"OrderPlaced v1: lines.0.quantity: Input should be ..."``."""
        details = err.errors(include_url=False, include_input=False, include_context=False)
        parts = [f"{_location(e['loc'])}: {e['msg']}" for e in details[:_MAX_LISTED_ERRORS]]
        if len(details) > _MAX_LISTED_ERRORS:
            parts.append(f"and {len(details) - _MAX_LISTED_ERRORS} more error(s)")
        reason = f"{type_name} v{version}{note}: " + "; ".join(parts)
        return cls(
            reason,
            type_name=type_name,
            version=version,
            errors=[dict(e) for e in details],
        )


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(payload)"


class RegistryError(ValueError):
    """A contract or upcaster was declared or registered inconsistently (a bug, not a message)."""
