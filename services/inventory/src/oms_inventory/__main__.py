"""``python -m oms_inventory``: run the inventory service until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio

from oms_inventory.app import create_app
from oms_inventory.settings import InventorySettings
from oms_platform.logging import configure_logging


async def _serve(settings: InventorySettings) -> None:
    # Built inside the running loop: ServiceHost's consumer runtime creates an aiokafka
    # producer in its constructor, which needs one, so `run(create_app(...))` from
    # oms_platform.service fails with "should be created within an async function".
    await create_app(settings).serve()


def main() -> None:
    settings = InventorySettings()  # the DSN comes from the environment
    configure_logging(settings.service, json=settings.log_json, level=settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
