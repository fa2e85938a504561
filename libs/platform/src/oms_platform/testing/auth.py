"""Bearer tokens for tests of services built with ``testing.keys.service_keys()``.

``headers()`` is a token with every scope (for tests about something else);
``headers(Scope.WAREHOUSE, subject="staff:pia")`` a narrow one. Processes started by the
local stack's scripts verify with the stack's own key instead: mint for those with
``oms_cli.tokens``.
"""

from __future__ import annotations

from oms_platform.auth import ALL_SCOPES, Scope, TokenIssuer
from oms_platform.testing.keys import TEST_AUTH_PRIVATE_PEM

ISSUER = TokenIssuer(TEST_AUTH_PRIVATE_PEM)


def token(*scopes: Scope, subject: str = "staff:test", ttl_s: int = 3600) -> str:
    return ISSUER.mint(subject, scopes or ALL_SCOPES, ttl_s=ttl_s)


def headers(*scopes: Scope, subject: str = "staff:test") -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` for ``scopes`` (default: all of them)."""
    return {"Authorization": f"Bearer {token(*scopes, subject=subject)}"}
