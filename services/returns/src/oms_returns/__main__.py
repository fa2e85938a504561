"""``python -m oms_returns``: run the returns service until SIGTERM or SIGINT."""

from oms_platform.service import run
from oms_returns.app import create_app
from oms_returns.settings import ReturnsSettings

if __name__ == "__main__":
    run(create_app(ReturnsSettings()))  # the DSN and ports come from the environment
