"""``python -m oms_fulfilment``: run the fulfilment service until SIGTERM or SIGINT."""

from oms_fulfilment.app import create_app
from oms_fulfilment.settings import FulfilmentSettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(FulfilmentSettings()))  # the DSN and ports come from the environment
