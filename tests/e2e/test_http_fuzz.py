"""Every HTTP endpoint of every service, driven from its own OpenAPI description: no 5xx.

schemathesis generates requests for each operation of each running service's
``/openapi.json`` (valid ones and invalid ones) and sends them over HTTP to the real
processes on their real databases. Whatever a client can send must get an answer below
500. The operations are driven one by one (hypothesis, derandomized so a failure repeats)
rather than through schemathesis' pytest plugin, which does not run under pytest 9.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from oms_cli.config import StackConfig
from tests.e2e.system import LIFECYCLE, System, running_system

EXAMPLES_PER_OPERATION = 25
FUZZED = (*LIFECYCLE, "operations")
"""Operations last: it is started with the URLs of the services its console calls."""


def _fuzz_operation(operation: Any, mode: GenerationMode, sent: list[int]) -> list[str]:
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        sent[0] += 1
        try:
            case.call_and_validate(checks=[not_a_server_error], timeout=30)
        except Exception as err:  # collect every failing operation, not only the first
            failures.append(f"{operation.label} [{mode.value}]: {str(err)[:800]}")
            raise

    with contextlib.suppress(Exception):  # recorded in ``failures``
        run()
    return failures[-1:]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Every service, each fuzzed through its own description (the operations service's
    web pages and console actions too)."""
    logs = Path(tmp_path_factory.mktemp("service-logs"))
    with running_system(StackConfig(), logs, services=FUZZED) as system:
        yield system


@pytest.mark.parametrize("service", FUZZED)
def test_no_request_gets_a_server_error(system: System, service: str) -> None:
    schema = schemathesis.openapi.from_url(system.url(service) + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3, f"{service} describes only {len(operations)} operations"
    failures: list[str] = []
    sent = [0]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz_operation(operation, mode, sent)
    assert sent[0] >= len(operations) * 10, f"only {sent[0]} requests were sent"
    assert not failures, "\n\n".join(failures) + "\n" + system.log_tails()
