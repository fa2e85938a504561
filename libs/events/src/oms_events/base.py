"""Base classes for event payload contracts.

A contract is declared with its stable wire identity as class keywords::

    class OrderPlaced(Event, type_name="OrderPlaced", version=1):
        order_id: str

The type name is written into every envelope and stored forever, so it is spelled out
explicitly; it is never derived from the class or module name, which are free to change.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from oms_events.errors import RegistryError

TYPE_NAME_PATTERN = r"^[A-Z][A-Za-z0-9]{0,99}$"
_TYPE_NAME_RE = re.compile(TYPE_NAME_PATTERN)


class ContractModel(BaseModel):
    """Base for value objects nested in contracts (lines, addresses, allocations...).

    Frozen because events are facts that never change once written, and ``extra="forbid"``
    so that a producer's typo or an unannounced field fails loudly instead of being dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(ContractModel):
    """Base for event payload contracts.

    Subclasses pass ``type_name`` (PascalCase, e.g. ``"OrderPlaced"``) and ``version``
    (``>= 1``) as class keywords; they become the class attributes :attr:`event_type` and
    :attr:`event_version`. A subclass declared without them is abstract: it can hold shared
    fields but cannot be registered or sent.
    """

    event_type: ClassVar[str]
    """Stable type name written to ``Envelope.type``."""
    event_version: ClassVar[int]
    """Schema version written to ``Envelope.version``."""

    def __init_subclass__(
        cls, *, type_name: str | None = None, version: int | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if type_name is None and version is None:
            return
        if type_name is None or version is None:
            raise RegistryError(f"{cls.__qualname__}: give both type_name and version, or neither")
        if not _TYPE_NAME_RE.fullmatch(type_name):
            raise RegistryError(
                f"{cls.__qualname__}: type_name {type_name!r} must be PascalCase ASCII "
                f"(pattern {TYPE_NAME_PATTERN})"
            )
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise RegistryError(f"{cls.__qualname__}: version must be an int >= 1")
        cls.event_type = type_name
        cls.event_version = version

    @classmethod
    def is_concrete(cls) -> bool:
        """True when this very class declared ``type_name``/``version`` (not just inherited)."""
        return "event_type" in cls.__dict__

    @classmethod
    def contract_key(cls) -> tuple[str, int]:
        """``(type_name, version)``, the key of this contract in a registry."""
        if not cls.is_concrete():
            raise RegistryError(f"{cls.__qualname__} is abstract: it declares no type_name")
        return cls.event_type, cls.event_version
