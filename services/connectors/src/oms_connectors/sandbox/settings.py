"""Settings of the platform sandboxes (environment variables ``OMS_SANDBOX_*``).

The shops are given as one JSON list so that a demo or a test can start any mix of Shopify
shops and Adobe Commerce stores; secrets may come from files so that none has to sit in the
environment of the demo's process list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Platform = Literal["shopify", "adobe-commerce"]


def _read_secret(path: str | None) -> str | None:
    """A secret file's text without its trailing newline (editors and ``echo`` add one)."""
    if path is None:
        return None
    return Path(path).read_text(encoding="utf-8").rstrip("\n")


class ShopConfig(BaseModel):
    """One shop (Shopify) or store (Adobe Commerce) the sandbox plays."""

    model_config = ConfigDict(extra="forbid")

    shop: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    platform: Platform
    access_token: str | None = None
    access_token_file: str | None = None
    webhook_secret: str | None = None
    """Shopify: the app's client secret that signs webhooks (HMAC-SHA256)."""
    webhook_secret_file: str | None = None
    webhook_private_key_pem: str | None = None
    """Adobe Commerce: the RSA private key (PEM) that signs webhooks."""
    webhook_private_key_file: str | None = None
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    webhook_url: str | None = None
    """None: no webhooks are sent; the connector has to poll."""

    @model_validator(mode="after")
    def _load_files(self) -> Self:
        """Read the ``*_file`` secrets once, at start, and insist on what the platform needs."""
        self.access_token = self.access_token or _read_secret(self.access_token_file)
        self.webhook_secret = self.webhook_secret or _read_secret(self.webhook_secret_file)
        self.webhook_private_key_pem = self.webhook_private_key_pem or _read_secret(
            self.webhook_private_key_file
        )
        if not self.access_token:
            raise ValueError(f"shop {self.shop}: access_token or access_token_file is required")
        if self.webhook_url and self.platform == "shopify" and not self.webhook_secret:
            raise ValueError(f"shop {self.shop}: a webhook_url needs a webhook_secret")
        adobe = self.platform == "adobe-commerce"
        if self.webhook_url and adobe and not self.webhook_private_key_pem:
            raise ValueError(f"store {self.shop}: a webhook_url needs a webhook private key")
        return self


class SandboxSettings(BaseSettings):
    """E.g. ``OMS_SANDBOX_PORT=58090`` and ``OMS_SANDBOX_SHOPS='[{"shop": ...}]'``."""

    model_config = SettingsConfigDict(env_prefix="OMS_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=58090, ge=1, le=65535)
    shops: list[ShopConfig] = Field(default_factory=list)
    webhook_tries: int = Field(default=3, ge=1, le=20)
    """Attempts per delivery (the first one included); real Shopify retries for 48 hours."""
    webhook_backoff_s: float = Field(default=0.5, ge=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    shopify_api_version: str = "2025-01"
    """Sent as ``X-Shopify-API-Version`` on webhooks."""
    adobe_signature_message: Literal["base64_body", "raw_body"] = "base64_body"
    """What the Adobe webhook signature covers. Adobe's "Webhooks signature verification" page
    verifies the RSA-SHA256 signature over the *base64 encoding* of the body; ``raw_body`` signs
    the body's bytes themselves."""
    adobe_page_overflow: Literal["empty", "last_page"] = "empty"
    """A ``currentPage`` past the last page: Magento 2.4 answers no items (magento2#26986);
    2.3 and older repeated the last page (magento2#3787)."""

    @model_validator(mode="after")
    def _unique_shops(self) -> Self:
        names = [s.shop for s in self.shops]
        if len(names) != len(set(names)):
            raise ValueError("shop names must be unique")
        return self

    def shop(self, name: str, platform: Platform) -> ShopConfig | None:
        """The configured shop of that name on that platform, if any."""
        return next((s for s in self.shops if s.shop == name and s.platform == platform), None)
