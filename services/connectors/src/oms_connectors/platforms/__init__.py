"""The way back: telling a shop's platform what the OMS did, through one adapter interface."""
