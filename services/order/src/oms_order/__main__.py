"""``python -m oms_order``: run the order service until SIGTERM."""

from __future__ import annotations

import asyncio

from oms_order.app import create_app
from oms_order.settings import OrderSettings
from oms_platform.logging import configure_logging


async def _serve(settings: OrderSettings) -> None:
    # The host is built inside the running loop: its consumer runtime creates an aiokafka
    # producer in its constructor, which needs one (so `run(create_app(...))` fails).
    await create_app(settings).serve()


def main() -> None:
    settings = OrderSettings()  # the DSN comes from the environment
    configure_logging(settings.service, json=settings.log_json, level=settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
