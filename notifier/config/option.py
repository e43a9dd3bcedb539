"""The `--config` option every command that reads the configuration takes, and what each
such command does first with it: load the settings, or say what is wrong and exit 2."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from notifier.config import Settings, load_settings
from notifier.config.loading import find_config_path
from notifier.errors import ConfigError

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file. Default: $NOTIFIER_CONFIG, else ./config.toml, else the example.",
        show_default=False,
    ),
]

_err = Console(stderr=True, highlight=False)


def settings_or_exit(config: Path | None) -> Settings:
    """The settings `--config` names (or the default file); every problem printed on its own
    line and exit 2 when they do not load."""
    try:
        return load_settings(find_config_path(config, os.environ))
    except ConfigError as exc:
        for problem in exc.problems:
            _err.print(f"[red]error[/red] {problem}", markup=True, soft_wrap=True)
        raise typer.Exit(2) from exc


def command_failed(message: str) -> typer.Exit:
    """The exit (2) of a command refused, its reason printed on stderr as given."""
    _err.print(f"error: {message}", soft_wrap=True, markup=False)
    return typer.Exit(2)
