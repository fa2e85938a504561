"""``python -m oms_inventory``: run the inventory service with settings from the environment."""

from oms_inventory.app import create_app
from oms_inventory.settings import InventorySettings
from oms_platform.service import run

run(create_app(InventorySettings()))
