"""Where notifier's shipped files are: inside the installed package, or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _shipped(installed_name: str, checkout_name: str) -> Path:
    # A wheel carries these under the package (see pyproject's force-include); an
    # editable install or a bare checkout finds them at the top of the repository.
    installed = _PACKAGE / installed_name
    return installed if installed.exists() else _CHECKOUT / checkout_name


def templates_dir() -> Path:
    return _shipped("_templates", "templates")


def example_config() -> Path:
    return _shipped("_config.example.toml", "config.example.toml")


def migrations_dir() -> Path:
    return _PACKAGE / "migrations"
