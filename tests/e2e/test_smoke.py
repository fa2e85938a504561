"""The three services start as processes and answer on their health endpoints."""

import httpx

from tests.e2e.system import System


async def test_every_service_is_healthy(system: System) -> None:
    for name in ("order", "inventory", "payments"):
        async with httpx.AsyncClient() as client:
            resp = await client.get(system.url(name) + "/health")
        assert resp.status_code == 200, system.log_tails()
        assert resp.json()["service"] == name
