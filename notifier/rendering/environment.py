"""The one Jinja environment (ops' override directory first), and rendering messages with it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)

from notifier import paths
from notifier.config import Settings
from notifier.errors import TemplateMissingError
from notifier.rendering.smstext import normalise_sms
from notifier.vocabulary import Channel

_URL = re.compile(r"(https?://\S+)")


@dataclass(frozen=True, slots=True)
class RenderedText:
    subject: str | None
    body: str  # SMS text, or the email's plain-text part
    body_html: str | None


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
        # Templates are read once per process: a restart picks up an edited override.
        # Checking every file's mtime on each render (Jinja's default) cost a stat per
        # include and import on every page view and message.
        auto_reload=False,
        lstrip_blocks=True,
    )


def render_message(
    env: Environment,
    *,
    channel: Channel,
    template: str,
    locale: str,
    context: Mapping[str, Any],
) -> RenderedText:
    """SMS from sms/<locale>/<template>.txt; email from email/<locale>/<template>.txt.

    An email template has a `subject` and a `body` block of plain text; the HTML part
    is that same text set in email/base.html, so the two can never say different things.
    """
    loaded = _load(env, f"{channel}/{locale}/{template}.txt")
    if channel == Channel.SMS:
        return RenderedText(None, normalise_sms(_tidy(loaded.render(context))), None)
    for block in ("subject", "body"):
        if block not in loaded.blocks:
            raise TemplateMissingError(f"{loaded.name}: needs a {{% block {block} %}}")
    scope = loaded.new_context(dict(context))
    subject = " ".join("".join(loaded.blocks["subject"](scope)).split())
    body = _tidy("".join(loaded.blocks["body"](scope)))
    paragraphs = _paragraphs(body, _template_urls(context))
    html = _load(env, "email/base.html").render(
        lang=locale, subject=subject, paragraphs=paragraphs, company=context["company"]
    )
    return RenderedText(subject, body, html)


def _load(env: Environment, name: str) -> Template:
    try:
        return env.get_template(name)
    except TemplateNotFound as exc:
        raise TemplateMissingError(f"template not found: {name}") from exc


def _tidy(text: str) -> str:
    """Trimmed lines, at most one blank line between paragraphs."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _template_urls(context: Mapping[str, Any]) -> frozenset[str]:
    """The addresses our templates are given to print: the only ones made links."""
    booking = context.get("booking") or {}
    candidates = (
        context.get("rebooking_url"),
        context.get("rebooking_entry"),
        context.get("company", {}).get("website"),
        booking.get("manage_url"),
        context.get("feedback_url"),
    )
    return frozenset(url for url in candidates if isinstance(url, str) and url)


def _paragraphs(body: str, links: frozenset[str]) -> list[list[list[tuple[str, bool]]]]:
    """Paragraphs of lines of (text, is_link) pieces, for the HTML layout to set.

    A piece is a link only when it is one of `links`, with a sentence's full stop or
    comma after it left as text; any other address stays text.
    """
    lines = []
    for block in body.split("\n\n"):
        lines.append([_pieces(line, links) for line in block.splitlines()])
    return lines


def _pieces(line: str, links: frozenset[str]) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    for piece in _URL.split(line):
        if not piece:
            continue
        address = piece.rstrip(".,;:)")
        if _URL.fullmatch(piece) and address in links:
            pieces.append((address, True))
            if address != piece:
                pieces.append((piece[len(address) :], False))
        else:
            pieces.append((piece, False))
    return pieces
