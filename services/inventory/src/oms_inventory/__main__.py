"""``python -m oms_inventory``: run the inventory service until SIGTERM or SIGINT."""

from oms_inventory.app import create_app
from oms_inventory.settings import InventorySettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(InventorySettings()))  # the DSN and ports come from the environment
