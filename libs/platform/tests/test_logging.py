"""Log lines are JSON off a terminal and carry service, correlation and event ids."""

import json

import pytest
import structlog

from oms_platform.logging import configure_logging, event_context, get_logger
from oms_platform.settings import RetrySettings
from oms_platform.testing.builders import envelope


@pytest.fixture(autouse=True)
def _reset_structlog() -> None:
    structlog.reset_defaults()


def test_json_lines_carry_service_correlation_and_event_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("inventory", json=True)
    env = envelope("order-7", 1, type="OrderPlaced", correlation_id="ord-7")
    with event_context(env):
        get_logger().info("stock.reserved", sku="SKU-1")
    get_logger().info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "stock.reserved"
    assert lines[0]["service"] == "inventory"
    assert lines[0]["correlation_id"] == "ord-7"
    assert lines[0]["event_id"] == str(env.event_id)
    assert lines[0]["sku"] == "SKU-1" and lines[0]["level"] == "info"
    assert lines[1]["service"] == "inventory" and "correlation_id" not in lines[1]


def test_level_filter_drops_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("order", json=True, level="WARNING")
    get_logger().info("quiet")
    get_logger().warning("loud")
    assert [json.loads(x)["event"] for x in capsys.readouterr().err.splitlines()] == ["loud"]


def test_retry_backoff_grows_and_is_capped() -> None:
    retry = RetrySettings(initial_backoff_s=0.1, max_backoff_s=0.5)
    assert [retry.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
