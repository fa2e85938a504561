"""The front-end libraries ``make deps`` installs from npm (``services/operations/
node_modules``), served by the service itself under ``/static/vendor/<package>/``.

Missing bundles are not fatal: a clear log line, and the pages render without what they
bring (no charts without Chart.js, no live refresh or console actions without htmx).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oms_platform.logging import get_logger

log = get_logger(__name__)

BUNDLES = {"htmx.org": "htmx.min.js", "chart.js": "chart.umd.min.js"}
"""npm package -> the file of its ``dist`` folder the pages load."""


@dataclass(frozen=True)
class Vendor:
    dist: dict[str, Path]
    """npm package -> its ``dist`` folder, for the packages found."""

    def has(self, package: str) -> bool:
        return package in self.dist

    def script(self, package: str) -> str | None:
        """The URL of the package's bundle, when installed."""
        return f"/static/vendor/{package}/{BUNDLES[package]}" if self.has(package) else None


def node_modules(start: Path | None = None) -> Path | None:
    """The nearest ``node_modules`` above this package (the service's folder in a checkout)."""
    here = (start or Path(__file__)).resolve()
    for folder in here.parents:
        candidate = folder / "node_modules"
        if candidate.is_dir():
            return candidate
    return None


def find_vendor(root: Path | None = None) -> Vendor:
    """The installed bundles under ``root`` (default: :func:`node_modules`)."""
    root = root or node_modules()
    found: dict[str, Path] = {}
    for package, bundle in BUNDLES.items():
        dist = root / package / "dist" if root else None
        if dist is not None and (dist / bundle).is_file():
            found[package] = dist
        else:
            log.warning(
                "web.vendor_missing",
                package=package,
                looked_in=str(dist) if dist else "no node_modules folder",
                hint="run `make deps` (npm ci in services/operations)",
            )
    return Vendor(found)
