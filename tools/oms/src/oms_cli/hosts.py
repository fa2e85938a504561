"""Each service's host built only to be looked at: its routes, subscriptions, metrics.

:func:`host_of` calls the service's ``create_app`` with settings that point nowhere
(nothing connects at construction) and the tests' fixed keys; such a host never serves,
verifies or signs anything real. The AsyncAPI document reads the consumers off it, and the
contract tests its routes' scopes, its subscriptions' ACLs and its ``/metrics``.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import SecretStr

from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing.keys import service_keys

_NOWHERE = SecretStr("postgresql://nobody:nothing@127.0.0.1:1/nowhere")
_PLACEHOLDER_KEY = "ab" * 32


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"oms_{service}.settings")
    # Every service names its settings class after itself (``OrderSettings``).
    name = next(n for n in vars(module) if n.lower() == f"{service}settings")
    cls: type[ServiceSettings] = getattr(module, name)
    return cls


def host_of(service: str) -> ServiceHost:
    """``service``'s host, built only to be looked at."""
    app = importlib.import_module(f"oms_{service}.app")
    cls = _settings_class(service)
    given: dict[str, Any] = {"database_dsn": _NOWHERE, **service_keys()}
    for name, field in cls.model_fields.items():
        # A service's own required secret (payments' gift card key): a placeholder.
        if field.is_required() and name not in given and field.annotation is SecretStr:
            given[name] = SecretStr(_PLACEHOLDER_KEY)
    settings = cls(**given)
    host: ServiceHost = app.create_app(settings)
    return host
