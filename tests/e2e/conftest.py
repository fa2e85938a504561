"""Whole-system fixtures: the services as processes against the stack `oms up` started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_cli.config import StackConfig
from tests.e2e.system import System, running_system


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs = tmp_path_factory.mktemp("service-logs")
    with running_system(StackConfig(), Path(logs)) as system:
        yield system
