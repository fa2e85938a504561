"""``python -m oms_operations``: run the operations service until SIGTERM or SIGINT."""

from oms_operations.app import create_app
from oms_operations.settings import OperationsSettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(OperationsSettings()))  # the DSN and ports come from the environment
