"""Fixtures of the payments unit tests."""

from __future__ import annotations

import pytest

from services.payments.tests.support import Payments


@pytest.fixture
def service() -> Payments:
    """A fresh in-memory payments service with a scripted provider."""
    return Payments()
