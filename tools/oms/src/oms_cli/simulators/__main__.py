"""``python -m oms_cli.simulators warehouse|carrier``: run one simulator until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx
from pydantic import ValidationError

from oms_cli.simulators.carrier import CarrierSimulator
from oms_cli.simulators.runtime import Simulator, run_loop, stop_on_signals
from oms_cli.simulators.settings import CarrierSimSettings, SimSettings, WarehouseSimSettings
from oms_cli.simulators.warehouse import WarehouseSimulator
from oms_platform.logging import configure_logging, get_logger

KINDS = ("warehouse", "carrier")


def _settings(kind: str) -> SimSettings:
    return WarehouseSimSettings() if kind == "warehouse" else CarrierSimSettings()


def _simulator(settings: SimSettings, client: httpx.AsyncClient, log: object) -> Simulator:
    if isinstance(settings, WarehouseSimSettings):
        return WarehouseSimulator(settings, client, log)
    assert isinstance(settings, CarrierSimSettings)
    # The shipping service's own carriers and secrets (same variables, same defaults).
    from oms_shipping.domain.carriers import CARRIERS
    from oms_shipping.settings import webhook_secrets_from_environment

    carriers = settings.carrier_codes() or tuple(CARRIERS)
    return CarrierSimulator(settings, client, webhook_secrets_from_environment(), carriers, log)


async def run(kind: str, settings: SimSettings) -> None:
    log = get_logger(f"oms.simulators.{kind}")
    stop = stop_on_signals()
    shown = settings.model_dump(mode="json")
    log.info("simulator_started", kind=kind, settings=shown)
    headers = settings.auth_headers()
    async with httpx.AsyncClient(timeout=settings.http_timeout_s, headers=headers) as client:
        sim = _simulator(settings, client, log)
        await run_loop(
            sim, stop, poll_s=settings.poll_s, max_backoff_s=settings.max_backoff_s, log=log
        )
    log.info("simulator_stopped", kind=kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oms_cli.simulators",
        description="Simulate the warehouse or the carriers against the OMS services' HTTP "
        "(configured by OMS_SIM_* environment variables; see oms_cli.simulators.settings).",
    )
    parser.add_argument("kind", choices=KINDS)
    args = parser.parse_args(argv)
    try:
        settings = _settings(args.kind)
    except ValidationError as err:
        print(f"invalid OMS_SIM_* settings:\n{err}", file=sys.stderr)
        return 2
    configure_logging(f"{args.kind}-simulator", json=settings.log_json, level=settings.log_level)
    asyncio.run(run(args.kind, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
