"""Failure classes: what a failed message or request tells us about what to do next.

* **poison** -- the message itself can never succeed: bytes that do not decode, any error
  while parsing, a contract violation, an unknown type or version, a permanent
  :class:`~oms_platform.refusal.Refusal`. Dead-lettered at once.
* **infrastructure** -- something the work depends on is unreachable now: the database
  (restarting, connection lost, pool exhausted), the broker, a payment provider that timed
  out (:class:`Unavailable`). Never dead-lettered: waited out, the offset left alone.
* **bug** -- anything else. Retried a few times (it may be a race), then dead-lettered so
  the partition moves on, and replayable once the code is fixed.
"""

from __future__ import annotations

from enum import StrEnum

import psycopg
import sqlalchemy.exc
from aiokafka.errors import KafkaError, KafkaTimeoutError

from oms_events.errors import EventContractError
from oms_platform.refusal import Refusal


class FailureClass(StrEnum):
    POISON = "poison"
    INFRASTRUCTURE = "infrastructure"
    BUG = "bug"


class Unavailable(Exception):
    """A dependency cannot be reached now (a provider timed out): retry, never dead-letter."""


def _causes(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _infrastructure(err: BaseException) -> bool:
    if isinstance(err, Unavailable | TimeoutError | ConnectionError):
        return True
    # OperationalError covers "the database system is starting up", admin shutdown,
    # refused connections and serialisation failures; InterfaceError a closed connection.
    if isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    if isinstance(
        err,
        sqlalchemy.exc.OperationalError
        | sqlalchemy.exc.InterfaceError
        | sqlalchemy.exc.TimeoutError
        | sqlalchemy.exc.DisconnectionError,
    ):
        return True
    if isinstance(err, sqlalchemy.exc.DBAPIError) and err.connection_invalidated:
        return True
    if isinstance(err, KafkaTimeoutError):
        return True
    if isinstance(err, KafkaError) and getattr(err, "retriable", False):
        return True
    # OSError without errno detail (e.g. "Connect call failed") is a network failure.
    return isinstance(err, OSError) and not isinstance(err, FileNotFoundError | PermissionError)


def is_infrastructure(err: BaseException) -> bool:
    """True when ``err`` (or what caused it) says a dependency is unreachable."""
    return any(_infrastructure(e) for e in _causes(err))


def classify(err: BaseException) -> FailureClass:
    """The class of a failure raised while handling a message (see the module doc)."""
    if isinstance(err, EventContractError | Refusal | RecursionError):
        return FailureClass.POISON
    if is_infrastructure(err):
        return FailureClass.INFRASTRUCTURE
    return FailureClass.BUG
