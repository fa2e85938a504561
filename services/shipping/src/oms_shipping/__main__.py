"""``python -m oms_shipping``: run the shipping service until SIGTERM or SIGINT."""

from oms_platform.service import run
from oms_shipping.app import create_app
from oms_shipping.settings import ShippingSettings

if __name__ == "__main__":
    run(create_app(ShippingSettings()))  # the DSN and ports come from the environment
