"""`notifier templates check` and `notifier templates preview`: the typer sub-app.

Loads the configuration as the other commands do (notifier/cli.py cannot be imported from
here: it imports this); the checks themselves load only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from notifier.config import Settings
from notifier.config.option import ConfigOption, settings_or_exit
from notifier.vocabulary import Channel, Reason

templates_app = typer.Typer(
    help="Check and preview the SMS, email, slip and page templates.", no_args_is_help=True
)
err = Console(stderr=True, highlight=False)


@templates_app.command("check")
def check(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list each SMS's encoding and segments.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Render every template for every language, case and sample; exit 1 on any error.

    One line per finding: path[:line[:column]]: error|warning: message, the path relative
    to the template root it came from (templates.override_dir, else the shipped one); line
    and column are left out where a finding has none (a whole SMS too long, a slip's sizes).
    """
    from notifier.templatecheck.runner import check_templates

    settings = settings_or_exit(config)
    report = check_templates(settings)
    for line in report.lines(verbose=verbose):
        typer.echo(line)
    override = settings.templates.override_dir
    typer.echo(report.summary() + (f" (override directory {override} first)" if override else ""))
    raise typer.Exit(1 if report.failed else 0)


@templates_app.command("preview")
def preview(
    name: Annotated[
        str, typer.Argument(help="A template: missed_delivery, rebooking_confirmed... or slip.")
    ],
    locale: Annotated[
        str, typer.Option(help="A language or a recipient's tag: it, en, en-GB.")
    ] = "it",
    channel: Annotated[
        str | None,
        typer.Option(help="sms (the default), email or slip (the default for NAME slip)."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="A reason, e.g. PAYMENT_REQUIRED.")] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Words of the sample's description, e.g. 'held at', 'next morning'."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    config: ConfigOption = None,
) -> None:
    """Show one rendering: an SMS or an email's text here, the HTML part or a slip in a file."""
    from notifier.templatecheck.preview import PreviewError

    chosen = channel or ("slip" if name == "slip" else "sms")
    if chosen not in ("sms", "email", "slip"):
        err.print(f"error: --channel must be sms, email or slip, not {chosen!r}")
        raise typer.Exit(2)
    if reason is not None and reason not in Reason.__members__:
        err.print(f"error: --reason must be one of {', '.join(Reason)}, not {reason!r}")
        raise typer.Exit(2)
    settings = settings_or_exit(config)
    why = Reason(reason) if reason else None
    try:
        if chosen == "slip":
            _preview_slip(
                settings, name=name, locale=locale, reason=why, variant=variant, output=output
            )
        else:
            _preview_message(
                settings,
                name=name,
                locale=locale,
                channel=Channel(chosen),
                reason=why,
                variant=variant,
                output=output,
            )
    except PreviewError as exc:
        err.print(f"error: {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc


def _preview_message(
    settings: Settings,
    *,
    name: str,
    locale: str,
    channel: Channel,
    reason: Reason | None,
    variant: str | None,
    output: Path | None,
) -> None:
    from notifier.templatecheck.preview import PreviewError, preview_message, sms_summary

    try:
        shown = preview_message(
            settings, name=name, locale=locale, channel=channel, reason=reason, variant=variant
        )
    except PreviewError:
        raise
    except Exception as exc:
        raise _failed(settings, exc, f"{channel}/{locale}/{name}.txt") from exc
    err.print(f"{channel}/{shown.language}/{name}.txt, sample: {shown.sample}", soft_wrap=True)
    text = shown.text
    if channel == Channel.SMS:
        typer.echo(text.body)
        typer.echo(f"-- {sms_summary(text.body)}")
        if output is not None:
            _write(output, text.body.encode())
        return
    typer.echo(f"Subject: {text.subject}\n\n{text.body}")
    path = output or Path.cwd() / f"{name}.{shown.language}.html"
    _write(path, (text.body_html or "").encode())
    typer.echo(f"-- HTML part written to {path}")


def _preview_slip(
    settings: Settings,
    *,
    name: str,
    locale: str,
    reason: Reason | None,
    variant: str | None,
    output: Path | None,
) -> None:
    from notifier.templatecheck.preview import PreviewError, preview_slip

    try:
        pdf, sample = preview_slip(settings, locale=locale, reason=reason, variant=variant)
    except PreviewError:
        raise
    except Exception as exc:
        raise _failed(settings, exc, "slips/slip.html") from exc
    path = output or Path.cwd() / f"{name}.{locale}.pdf"
    _write(path, pdf)
    typer.echo(f"slip ({sample}) written to {path}")


def _failed(settings: Settings, exc: Exception, rendering: str) -> typer.Exit:
    """A preview that does not render: the finding the check would report, exit 1."""
    from notifier.templatecheck.located import error_finding
    from notifier.templatecheck.sources import TemplateFiles

    finding = error_finding(
        exc, TemplateFiles.for_settings(settings), rendering=rendering, sample="preview"
    )
    err.print(str(finding), soft_wrap=True)
    return typer.Exit(1)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        err.print(f"error: cannot write {path}: {exc.strerror}")
        raise typer.Exit(2) from exc
