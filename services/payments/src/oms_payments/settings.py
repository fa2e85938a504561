"""Settings of the payments service (env prefix ``OMS_PAYMENTS_``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms_payments.gift_card_tokens import GiftCardTokens
from oms_payments.providers.rules import SandboxRules
from oms_platform.settings import ServiceSettings


class SandboxSettings(BaseSettings):
    """How the sandbox providers behave for every order (``OMS_PAYMENTS_SANDBOX_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMS_PAYMENTS_SANDBOX_", extra="ignore")

    timeouts: int = Field(default=0, ge=0)
    """Every provider call loses its answer this many times (per idempotency key)."""
    invoice_credit_limit: Decimal = Field(default=Decimal("1000.00"), ge=0)
    """Invoice / buy-now-pay-later authorizations above this fail the credit check."""
    cod_limit: Decimal = Field(default=Decimal("500.00"), ge=0)
    """Cash-on-delivery authorizations above this are refused."""
    card_partial_limit: Decimal | None = Field(default=None, ge=0)
    """When set, card authorizations above this are approved for this much only."""

    def rules(self) -> SandboxRules:
        return SandboxRules(
            timeouts=self.timeouts,
            invoice_credit_limit=self.invoice_credit_limit,
            cod_limit=self.cod_limit,
            card_partial_limit=self.card_partial_limit,
        )


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_PAYMENTS_", extra="ignore")

    service: str = "payments"
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    reconcile_after_s: float = Field(default=900.0, gt=0)
    """A provider call unanswered for this long is parked for reconciliation, not waited for."""
    gift_card_key: SecretStr
    """Hex key (16 bytes or more) of the gift card codes' keyed hash: a card's token.

    Required, with no default: a service that made one up would give every card a new token
    at each start. ``oms up`` makes one under ``.oms/secrets``; a deployment brings its own.
    """

    @field_validator("gift_card_key")
    @classmethod
    def _usable_key(cls, value: SecretStr) -> SecretStr:
        GiftCardTokens(value.get_secret_value())  # raises with the reason (never the key)
        return value

    def gift_card_tokens(self) -> GiftCardTokens:
        return GiftCardTokens(self.gift_card_key.get_secret_value())
