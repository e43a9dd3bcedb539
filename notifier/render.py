"""The one Jinja environment: ops' override directory first, then the shipped templates."""

from __future__ import annotations

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifier import paths
from notifier.config import Settings


def build_environment(settings: Settings) -> Environment:
    loaders = []
    if settings.templates.override_dir is not None:
        loaders.append(FileSystemLoader(settings.templates.override_dir))
    loaders.append(FileSystemLoader(paths.templates_dir()))
    return Environment(
        loader=ChoiceLoader(loaders),
        # A missing variable is a bug in a template, never an empty gap in a message.
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "htm", "xml"]),
        keep_trailing_newline=True,
    )
