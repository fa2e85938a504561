"""Simulators of the world outside the OMS: a warehouse that picks and packs, carriers that
collect and deliver. Each is its own process (``python -m oms_cli.simulators warehouse``,
``python -m oms_cli.simulators carrier``), started by `oms up` unless ``--no-simulators``.

They drive only the services' public HTTP, as a warehouse app and a carrier would, are
configured by ``OMS_SIM_*`` environment variables (:mod:`oms_cli.simulators.settings`),
decide deterministically from ``OMS_SIM_SEED`` and the fulfilment or shipment id (so a
restarted simulator repeats its own reports, which the services take as duplicates), and
never stop for a refused request or a service that is down: they log it and retry with
backoff. SIGTERM stops them after the request in flight.
"""
