"""The shops a connector serves, and how each one's orders become OMS orders.

A shop is one storefront on one platform: a Shopify shop (``acme.myshopify.com``) or an
Adobe Commerce store view. Each has its own sales channel (the OMS ``sales_channel`` of its
orders), its own secrets (the Shopify app's client secret, the Adobe Commerce webhook
public key, an API access token for the way back) and its own payment-method table: the
platform's method code -> the OMS :class:`PaymentMethod`. A method missing from the table
is refused with a reason the shop can read, never guessed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from oms_events.contracts.common import PaymentMethod
from oms_events.limits import SINGLE_LINE_PATTERN


class Platform(StrEnum):
    ADOBE_COMMERCE = "adobe-commerce"
    SHOPIFY = "shopify"


class Intake(StrEnum):
    """How an Adobe Commerce shop's orders reach the connector (a shop may allow only one)."""

    WEBHOOK = "webhook"
    POLL = "poll"
    BOTH = "both"


ADOBE_PAYMENT_METHODS = MappingProxyType(
    {
        "checkmo": PaymentMethod.BANK_TRANSFER,  # check / money order: paid by transfer
        "banktransfer": PaymentMethod.BANK_TRANSFER,
        "cashondelivery": PaymentMethod.CASH_ON_DELIVERY,
        "braintree": PaymentMethod.CARD,
        "braintree_cc_vault": PaymentMethod.CARD,
        "braintree_paypal": PaymentMethod.PAYPAL,
        "paypal_express": PaymentMethod.PAYPAL,
        "payflowpro": PaymentMethod.CARD,
        "adyen_cc": PaymentMethod.CARD,
        "adyen_ideal": PaymentMethod.IDEAL,
        "klarna_kp": PaymentMethod.INVOICE,
    }
)
"""Adobe Commerce ``payment.method`` codes a new shop starts with (its table may change them)."""

SHOPIFY_PAYMENT_GATEWAYS = MappingProxyType(
    {
        "shopify_payments": PaymentMethod.CARD,
        "paypal": PaymentMethod.PAYPAL,
        "Cash on Delivery (COD)": PaymentMethod.CASH_ON_DELIVERY,
        "Bank Deposit": PaymentMethod.BANK_TRANSFER,
        "ideal": PaymentMethod.IDEAL,
        "klarna": PaymentMethod.INVOICE,
    }
)
"""Shopify ``payment_gateway_names`` a new shop starts with."""

SHOP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


def _secret(value: SecretStr | None, path: Path | None, what: str) -> SecretStr | None:
    if value is not None:
        return value
    if path is not None:
        return SecretStr(path.read_text().strip())
    return None


class ShopConfig(BaseModel):
    """One shop. Secrets are given inline or, better, as files (``*_file``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shop: str = Field(pattern=SHOP_ID_PATTERN, description="The shop's id in URLs and records.")
    platform: Platform
    sales_channel: str = Field(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN)
    currencies: tuple[str, ...] = Field(
        default=("EUR",), min_length=1, description="Currencies the shop's orders may be in."
    )
    payment_methods: dict[str, PaymentMethod] = Field(
        default_factory=dict,
        description="Platform method code -> OMS method; merged over the platform's defaults.",
    )
    api_url: str = Field(
        description="Base URL of the platform's API for this shop, e.g. "
        "https://acme.myshopify.com or https://shop.example/rest/default"
    )
    api_version: str = "2025-01"
    """Shopify Admin API version (ignored for Adobe Commerce)."""
    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    webhook_secret: SecretStr | None = None
    """Shopify: the app's client secret, the key of ``X-Shopify-Hmac-Sha256``."""
    webhook_secret_file: Path | None = None
    webhook_public_key: str | None = None
    """Adobe Commerce: the PEM public key of ``x-adobe-commerce-webhook-signature``."""
    webhook_public_key_file: Path | None = None
    intake: Intake = Intake.BOTH
    poll_every_s: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("currencies")
    @classmethod
    def _currency_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if len(code) != 3 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not an ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _signing_key(self) -> ShopConfig:
        if self.platform is Platform.SHOPIFY and self.secret() is None:
            raise ValueError(f"shop {self.shop}: a Shopify shop needs its webhook_secret")
        if (
            self.platform is Platform.ADOBE_COMMERCE
            and self.intake is not Intake.POLL
            and self.public_key() is None
        ):
            raise ValueError(
                f"shop {self.shop}: an Adobe Commerce shop taking webhooks needs its "
                "webhook_public_key (or intake: poll)"
            )
        return self

    def secret(self) -> SecretStr | None:
        return _secret(self.webhook_secret, self.webhook_secret_file, "webhook secret")

    def public_key(self) -> str | None:
        if self.webhook_public_key is not None:
            return self.webhook_public_key
        if self.webhook_public_key_file is not None:
            return self.webhook_public_key_file.read_text()
        return None

    def token(self) -> SecretStr | None:
        return _secret(self.access_token, self.access_token_file, "access token")

    def payment_table(self) -> dict[str, PaymentMethod]:
        """The platform's defaults with this shop's own entries over them."""
        base = (
            ADOBE_PAYMENT_METHODS
            if self.platform is Platform.ADOBE_COMMERCE
            else SHOPIFY_PAYMENT_GATEWAYS
        )
        return {**base, **self.payment_methods}
