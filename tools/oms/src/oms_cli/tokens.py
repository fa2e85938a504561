"""Bearer tokens signed with the local stack's key (``oms token``, the demo, the simulators,
tests of the processes ``oms up`` runs)."""

from __future__ import annotations

from collections.abc import Iterable

from oms_cli.config import StackConfig
from oms_cli.secrets import ensure_secrets
from oms_platform.auth import ALL_SCOPES, Scope, TokenIssuer


def mint(
    config: StackConfig,
    scopes: Iterable[Scope | str] = ALL_SCOPES,
    *,
    subject: str = "staff:oms-cli",
    ttl_s: int = 3600,
) -> str:
    """A token for ``subject`` with ``scopes``, valid ``ttl_s`` seconds."""
    issuer = TokenIssuer(ensure_secrets(config).auth_private_key)
    return issuer.mint(subject, scopes, ttl_s=ttl_s)


def headers(
    config: StackConfig,
    scopes: Iterable[Scope | str] = ALL_SCOPES,
    *,
    subject: str = "staff:oms-cli",
) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` signed with the stack's key."""
    return {"Authorization": f"Bearer {mint(config, scopes, subject=subject)}"}


SIGN_IN_SCOPES = (Scope.OPERATIONS, Scope.CUSTOMER_SERVICE)
SIGN_IN_SUBJECT = "staff:local-operator"


def sign_in_link(config: StackConfig, operations_url: str, *, ttl_s: int = 12 * 3600) -> str:
    """``<operations>/login#token=…``: opens the dashboard and console signed in."""
    found = mint(config, SIGN_IN_SCOPES, subject=SIGN_IN_SUBJECT, ttl_s=ttl_s)
    return f"{operations_url.rstrip('/')}/login#token={found}"
