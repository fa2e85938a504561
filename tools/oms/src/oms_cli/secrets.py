"""The local stack's keys, made once by ``oms up`` under ``<home>/secrets`` (mode 0600).

Development keys only, for one machine; a deployment brings its own (Kubernetes Secrets,
see deploy/k8s). What each one is for:

* ``auth-signing.pem`` / ``auth-signing.pub.pem``: Ed25519 pair for bearer tokens. ``oms
  token`` signs with the private key; every service gets only the public key.
* ``chain.key``: the HMAC key of the events' hash chain, held outside the databases.
* ``anchor-signing.pem`` / ``anchor-signing.pub.pem``: Ed25519 pair that signs the chain
  heads the services publish to the audit topic; ``oms audit verify`` checks with the
  public key.
* ``gift-card.key``: the key of the gift card codes' keyed hash (payments only).
* ``kafka-<user>.password``: the broker's SCRAM password of each Kafka user (``admin``,
  ``oms-<service>``, ``oms-platform``; see ``oms_platform.access``).
* ``shop-<shop>.token`` / ``shop-<shop>.webhook-secret`` / ``shop-<shop>.webhook.pem`` (and
  ``.pub.pem``): the demo shops' API access tokens, Shopify app secrets and Adobe Commerce
  webhook key pairs, shared by the connector and the platform sandboxes
  (``oms_cli.platforms``).
"""

from __future__ import annotations

import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oms_cli.config import StackConfig


@dataclass(frozen=True)
class LocalSecrets:
    folder: Path

    def text(self, name: str) -> str:
        return (self.folder / name).read_text()

    @property
    def auth_private_key(self) -> str:
        return self.text("auth-signing.pem")

    @property
    def auth_public_key(self) -> str:
        return self.text("auth-signing.pub.pem")

    @property
    def chain_key(self) -> str:
        return self.text("chain.key").strip()

    @property
    def anchor_private_key(self) -> str:
        return self.text("anchor-signing.pem")

    @property
    def anchor_public_key(self) -> str:
        return self.text("anchor-signing.pub.pem")

    @property
    def gift_card_key(self) -> str:
        return self.text("gift-card.key").strip()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _ed25519_pair(folder: Path, stem: str) -> None:
    if (folder / f"{stem}.pem").exists():
        return
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (folder / f"{stem}.pub.pem").write_text(public)
    _write_private(folder / f"{stem}.pem", private)


def rsa_pair(config: StackConfig, stem: str) -> tuple[Path, Path]:
    """An RSA key pair (PEM: PKCS#8 private, SubjectPublicKeyInfo public), made once."""
    folder = ensure_secrets(config).folder
    private, public = folder / f"{stem}.pem", folder / f"{stem}.pub.pem"
    if not private.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public.write_text(
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        _write_private(
            private,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
        )
    return private, public


def random_secret(config: StackConfig, name: str) -> Path:
    """The file of a random secret ``name`` under the stack's secrets, made once."""
    folder = ensure_secrets(config).folder
    _random_key(folder, name)
    return folder / name


def _random_key(folder: Path, name: str) -> None:
    if not (folder / name).exists():
        _write_private(folder / name, _random.token_hex(32) + "\n")


def ensure_secrets(config: StackConfig) -> LocalSecrets:
    """The stack's keys, made the first time (kept across ``oms down``/``up``)."""
    folder = config.home / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _ed25519_pair(folder, "auth-signing")
    _ed25519_pair(folder, "anchor-signing")
    _random_key(folder, "chain.key")
    _random_key(folder, "gift-card.key")
    return LocalSecrets(folder)


def secret_env(config: StackConfig, service: str) -> dict[str, str]:
    """The keys a service process gets, as ``OMS_<SERVICE>_…`` variables."""
    keys = ensure_secrets(config)
    prefix = f"OMS_{service.upper()}_"
    env = {
        f"{prefix}AUTH_PUBLIC_KEY": keys.auth_public_key,
        f"{prefix}CHAIN_KEY": keys.chain_key,
        f"{prefix}ANCHOR_SIGNING_KEY": keys.anchor_private_key,
    }
    if service == "payments":
        env[f"{prefix}GIFT_CARD_KEY"] = keys.gift_card_key
    return env


def kafka_password(config: StackConfig, user: str) -> str:
    """The SCRAM password of Kafka user ``user``, made the first time it is asked for."""
    folder = ensure_secrets(config).folder
    name = f"kafka-{user}.password"
    _random_key(folder, name)
    return (folder / name).read_text().strip()
