"""Faithful in-memory sandboxes of the Shopify Admin REST API and the Adobe Commerce (Magento 2)
REST API, with the platforms' signed order webhooks, for the connector's tests and
``oms demo --platform ...``. ``python -m oms_connectors.sandbox`` serves them."""

from oms_connectors.sandbox.app import Sandbox, create_sandbox
from oms_connectors.sandbox.settings import SandboxSettings, ShopConfig

__all__ = ["Sandbox", "SandboxSettings", "ShopConfig", "create_sandbox"]
