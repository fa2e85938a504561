"""``python -m oms_connectors``: run the connectors service until SIGTERM or SIGINT."""

from oms_connectors.app import create_app
from oms_connectors.settings import ConnectorsSettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(ConnectorsSettings()))  # the DSN, ports and shops come from the environment
