"""``python -m oms_payments``: run the payments service until SIGTERM or SIGINT."""

from oms_payments.app import create_app
from oms_payments.settings import PaymentsSettings
from oms_platform.service import run

if __name__ == "__main__":
    run(create_app(PaymentsSettings()))  # the DSN and ports come from the environment
