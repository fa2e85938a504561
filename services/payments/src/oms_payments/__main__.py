"""``python -m oms_payments``: run the payments service until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio

from oms_payments.app import create_app
from oms_payments.settings import PaymentsSettings
from oms_platform.logging import configure_logging


async def _serve(settings: PaymentsSettings) -> None:
    # Built inside the running loop: ServiceHost's consumer runtime creates an aiokafka
    # producer in its constructor, which needs one, so `oms_platform.service.run(host)`
    # cannot be used as the brief suggests.
    await create_app(settings).serve()


def main() -> None:
    settings = PaymentsSettings()  # the DSN comes from the environment
    configure_logging(settings.service, json=settings.log_json, level=settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
