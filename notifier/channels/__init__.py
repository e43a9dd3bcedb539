"""Channels: one module per provider; the registry is an explicit dict, never a scan."""
