"""``python -m oms_connectors.sandbox``: serve the sandboxes on ``OMS_SANDBOX_HOST``:``PORT``
(default 127.0.0.1:58090) with the shops of ``OMS_SANDBOX_SHOPS``."""

import uvicorn

from oms_connectors.sandbox.app import create_sandbox
from oms_connectors.sandbox.settings import SandboxSettings
from oms_platform.logging import configure_logging

if __name__ == "__main__":
    settings = SandboxSettings()
    configure_logging("sandbox")
    uvicorn.run(create_sandbox(settings), host=settings.host, port=settings.port, log_level="info")
