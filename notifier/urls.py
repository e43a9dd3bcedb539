"""Every public URL notifier hands out, built in one place from the configured bases.

Never from a request's Host header (anyone can send one), and never with a row id or
personal data in it: what a URL carries is an opaque token or nothing.
"""

from __future__ import annotations

from notifier.config import Settings


def rebooking_entry(settings: Settings) -> str:
    """Where a short code is typed by hand: the rebooking base, without a token."""
    return str(settings.company.rebooking_base_url).rstrip("/")


def rebooking_link(settings: Settings, token: str) -> str:
    """A rebooking link: the configured rebooking base + the link's token."""
    return f"{rebooking_entry(settings)}/{token}"


def company_website(settings: Settings) -> str:
    return str(settings.company.website).rstrip("/")
