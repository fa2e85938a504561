"""``python -m oms_order``: run the order service until SIGTERM or SIGINT."""

from oms_order.app import create_app
from oms_order.settings import OrderSettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(OrderSettings()))  # the DSN and ports come from the environment
