"""Structured logs: JSON when not on a terminal, carrying service, correlation and event ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from oms_events.envelope import Envelope


def configure_logging(service: str, *, json: bool | None = None, level: str = "INFO") -> None:
    """Set up structlog once per process; ``json=None`` picks JSON unless stderr is a tty."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


@contextmanager
def event_context(env: Envelope) -> Iterator[None]:
    """Bind ``correlation_id`` and ``event_id`` to every log line written inside."""
    with structlog.contextvars.bound_contextvars(
        correlation_id=env.correlation_id,
        event_id=str(env.event_id),
        event_type=env.type,
    ):
        yield
