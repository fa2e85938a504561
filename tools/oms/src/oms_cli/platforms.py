"""The local stack's demo shops, on both sides: the connector's shop table and the platform
sandboxes' (``python -m oms_connectors.sandbox``, started by ``oms up`` beside the
simulators), which stand in for Shopify and Adobe Commerce since neither can be reached
from here.

Three shops: ``demo-shopify`` (a Shopify shop sending ``orders/create`` webhooks),
``demo-adobe`` (an Adobe Commerce store sending webhooks, polled as well) and
``demo-adobe-poll`` (a store that allows no webhook: polled only). Their secrets are made
once under ``.oms/secrets`` and given to both sides as file paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oms_cli.config import StackConfig
from oms_cli.secrets import random_secret, rsa_pair


@dataclass(frozen=True)
class DemoShop:
    shop: str
    platform: str
    sales_channel: str
    intake: str
    """webhook | both | poll (Shopify shops take webhooks only)."""


DEMO_SHOPS: tuple[DemoShop, ...] = (
    DemoShop("demo-shopify", "shopify", "shopify-demo", "webhook"),
    DemoShop("demo-adobe", "adobe-commerce", "adobe-demo", "both"),
    DemoShop("demo-adobe-poll", "adobe-commerce", "adobe-poll-demo", "poll"),
)


def shop_named(shop: str) -> DemoShop:
    return next(s for s in DEMO_SHOPS if s.shop == shop)


def api_url(config: StackConfig, shop: DemoShop) -> str:
    base = f"{config.platform_sandbox_url}/{shop.platform}/{shop.shop}"
    return f"{base}/rest/default" if shop.platform == "adobe-commerce" else base


def webhook_url(config: StackConfig, shop: DemoShop) -> str:
    return f"{config.service_url('connectors')}/v1/webhooks/{shop.platform}/{shop.shop}"


def connector_shops(config: StackConfig) -> list[dict[str, Any]]:
    """The connector's shop table (``ShopConfig`` of ``oms_connectors.shops``)."""
    shops: list[dict[str, Any]] = []
    for s in DEMO_SHOPS:
        entry: dict[str, Any] = {
            "shop": s.shop,
            "platform": s.platform,
            "sales_channel": s.sales_channel,
            "currencies": ["EUR"],
            "api_url": api_url(config, s),
            "access_token_file": str(random_secret(config, f"shop-{s.shop}.token")),
            "poll_every_s": 2.0,
        }
        if s.platform == "shopify":
            entry["webhook_secret_file"] = str(
                random_secret(config, f"shop-{s.shop}.webhook-secret")
            )
        else:
            entry["intake"] = s.intake
            if s.intake != "poll":
                _private, public = rsa_pair(config, f"shop-{s.shop}.webhook")
                entry["webhook_public_key_file"] = str(public)
        shops.append(entry)
    return shops


def sandbox_shops(config: StackConfig) -> list[dict[str, Any]]:
    """The sandboxes' shop table: the same shops, their private halves, where to deliver."""
    shops: list[dict[str, Any]] = []
    for s in DEMO_SHOPS:
        entry: dict[str, Any] = {
            "shop": s.shop,
            "platform": s.platform,
            "currency": "EUR",
            "access_token_file": str(random_secret(config, f"shop-{s.shop}.token")),
            "webhook_url": None if s.intake == "poll" else webhook_url(config, s),
        }
        if s.platform == "shopify":
            entry["webhook_secret_file"] = str(
                random_secret(config, f"shop-{s.shop}.webhook-secret")
            )
        elif s.intake != "poll":
            private, _public = rsa_pair(config, f"shop-{s.shop}.webhook")
            entry["webhook_private_key_file"] = str(private)
        shops.append(entry)
    return shops


def shops_file(config: StackConfig) -> Path:
    """Write the connector's shop table where its ``OMS_CONNECTORS_SHOPS_FILE`` points."""
    path = config.services_dir / "connectors-shops.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(connector_shops(config), indent=2))
    return path
