"""The `--config` option every command that reads the configuration takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file. Default: $NOTIFIER_CONFIG, else ./config.toml, else the example.",
        show_default=False,
    ),
]
