"""Configuration: the settings' shape (settings.py), their defaults, and loading them."""

from notifier.config.loading import load_settings
from notifier.config.settings import Settings

__all__ = ["Settings", "load_settings"]
