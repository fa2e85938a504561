"""Platform connectors: shop platforms ' own order payloads in, OMS status back out."""
