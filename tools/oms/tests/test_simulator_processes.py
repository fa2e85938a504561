"""`oms up`'s simulator processes: their environment, and how `oms status` sees them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oms_cli import simulator_processes as sims
from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive, stop_pid


def config(home: Path) -> StackConfig:
    return StackConfig(home=home, services_base_port=48080)


def test_a_simulator_gets_the_stacks_urls_and_keeps_its_tuning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_SIM_TRANSIT_S", "3")
    monkeypatch.setenv("OMS_SIM_SHIPPING_URL", "http://stale:1")
    env = sims.simulator_env(config(tmp_path))
    assert env["OMS_SIM_FULFILMENT_URL"] == "http://127.0.0.1:48084"
    assert env["OMS_SIM_INVENTORY_URL"] == "http://127.0.0.1:48082"
    assert env["OMS_SIM_SHIPPING_URL"] == "http://127.0.0.1:48085"
    assert env["OMS_SIM_TRANSIT_S"] == "3"


def test_only_simulators_whose_services_exist_are_wanted() -> None:
    assert sims.wanted(["order", "fulfilment", "inventory", "shipping"]) == [
        "warehouse",
        "carrier",
    ]
    assert sims.wanted(["order", "inventory", "payments"]) == []


def test_status_lists_the_simulators_started_alive_or_dead(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert sims.simulators_status(cfg) == {}  # none started (e.g. --no-simulators)
    cfg.services_dir.mkdir(parents=True)
    sims.pid_file(cfg, "carrier").write_text("999999\n")  # a pid that is gone
    assert sims.simulators_status(cfg)["carrier"]["alive"] is False
    # A real one, against services that are not there: it runs (and retries) until stopped.
    env = sims.simulator_env(cfg, {"OMS_SIM_POLL_S": "0.2"})
    pid = sims.spawn_simulator("carrier", env, sims.log_file(cfg, "carrier"))
    sims.pid_file(cfg, "carrier").write_text(f"{pid}\n")
    log = sims.log_file(cfg, "carrier")
    try:
        deadline = time.monotonic() + 30
        while "simulator_started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)  # SIGTERM before its handler is set would just kill it
        assert sims.simulators_status(cfg)["carrier"] == {
            "alive": True,
            "pid": pid,
            "log": str(sims.log_file(cfg, "carrier")),
        }
        assert sims.stop_simulators(cfg) == ["carrier"]
        assert not pid_alive(pid) and sims.simulators_status(cfg) == {}
        assert "simulator_stopped" in sims.log_file(cfg, "carrier").read_text()
    finally:
        if pid_alive(pid):
            stop_pid(pid, 5)
