"""Browser-tier fixtures: one whole system (every service, operations included, and both
simulators) with a demo-sized run on it, shared by the session; and headless Chromium.

The browser is Debian's (``/usr/bin/chromium``, installed by ``make test``), driven by
Playwright for Python; Playwright never downloads a browser here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.tokens import SIGN_IN_SCOPES
from tests.browser.demo import Demo, run_demo
from tests.e2e.system import LIFECYCLE, System, running_system

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("browser-logs"))


@pytest.fixture(scope="session")
def browser_system(browser_logs: Path) -> Iterator[System]:
    with running_system(
        StackConfig(),
        browser_logs,
        services=(*LIFECYCLE, "operations"),
        OMS_RETURNS_RETURN_WINDOW_DAYS="30",
    ) as system:
        system.simulate(
            "warehouse",
            browser_logs,
            WAREHOUSES="AMS,BER,MAD",
            PICK_DELAY_S="0.2",
            PACK_DELAY_S="0.2",
            SHORT_PICK_RATE="0",
        )
        system.simulate("carrier", browser_logs, TRANSIT_S="2", DELIVERY_FAILURE_RATE="0")
        yield system


@pytest.fixture(scope="session")
async def demo(browser_system: System) -> Demo:
    """The demo run on the session's system (placed once; tests only read it). The
    simulators stop once every order is delivered or cancelled: the system stays up for
    the rest of the session (the fixture is session-scoped) and should idle meanwhile."""
    run = await run_demo(browser_system)
    for simulator in browser_system.simulators.values():
        simulator.stop()
    return run


def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = chromium()
    async with async_playwright() as p:
        chromium_browser = await p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium_browser
        finally:
            await chromium_browser.close()


STAFF = "staff:browser-agent"
"""Who the browser signs in as: the actor of what it does in the console."""


@pytest.fixture
async def anonymous_page(browser: Any) -> AsyncIterator[Any]:
    """A tab that has not signed in."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    tab = await context.new_page()
    try:
        yield tab
    finally:
        await context.close()


@pytest.fixture
async def page(anonymous_page: Any, browser_system: System) -> Any:
    """A tab signed in as operations and customer service staff, the way ``oms status``'s
    link does it: the token in the sign-in page's fragment, turned into the session cookie."""
    token = tokens.mint(browser_system.stack, SIGN_IN_SCOPES, subject=STAFF)
    base = browser_system.url("operations")
    await anonymous_page.goto(f"{base}/login#token={token}")
    await anonymous_page.wait_for_url(f"{base}/")
    return anonymous_page
