"""The three services start as processes, are alive and ready."""

import httpx

from tests.e2e.system import System


async def test_every_service_is_healthy(system: System) -> None:
    for name in ("order", "inventory", "payments"):
        async with httpx.AsyncClient() as client:
            resp = await client.get(system.url(name) + "/health")
        assert resp.status_code == 200, system.log_tails()
        assert resp.json()["service"] == name
        async with httpx.AsyncClient() as client:
            ready = await client.get(system.url(name) + "/ready")
        assert ready.status_code == 200, (ready.text, system.log_tails())
        assert ready.json()["ready"] is True
