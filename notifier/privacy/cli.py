"""`notifier erase`, `notifier export` and `notifier privacy retention`: the privacy
commands, as typer commands notifier/cli.py registers (it cannot be imported from here:
it imports this). Only these commands read the clock.

What they print never names the person: counts per table, or the JSON export itself,
which is the answer the person asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from notifier.config import Settings
from notifier.config.option import ConfigOption, command_failed, settings_or_exit
from notifier.db import schema
from notifier.db.command import on_database
from notifier.db.engine import engine_from
from notifier.errors import NotifierError
from notifier.privacy.erase import erase
from notifier.privacy.export import export_json, held_about, holds_anything
from notifier.privacy.person import Person, person_from
from notifier.privacy.retention import apply_retention
from notifier.privacy.scrub import Counts

privacy_app = typer.Typer(help="Privacy: the retention of contact data.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)

PhoneOption = Annotated[
    str | None, typer.Option("--phone", help="The person's number (E.164 or national form).")
]
EmailOption = Annotated[str | None, typer.Option("--email", help="The person's email address.")]


def register(app: typer.Typer) -> None:
    app.command("erase")(erase_command)
    app.command("export")(export_command)
    app.add_typer(privacy_app, name="privacy")


def _person(settings: Settings, phone: str | None, email: str | None) -> tuple[Person, bytes]:
    """The person asked about, and the key their hash is made with (the secret key's)."""
    try:
        person = person_from(
            phone=phone, email=email, default_region=settings.company.default_phone_region
        )
        return person, settings.link_key
    except NotifierError as exc:
        raise command_failed(str(exc)) from exc


def _print_counts(counts: Counts) -> None:
    for name, count in sorted(counts.items()):
        typer.echo(f"{name}: {count}")


def erase_command(
    phone: PhoneOption = None, email: EmailOption = None, config: ConfigOption = None
) -> None:
    """Erase a person: their contact data leaves every table, in one transaction, and only
    a keyed hash stays on the suppression list, so they are never messaged again.

    Statuses, times and counts stay. Running it again changes nothing.
    """
    settings = settings_or_exit(config)
    person, key = _person(settings, phone, email)
    now = datetime.now(UTC)
    counts = on_database(
        settings, lambda connection: erase(connection, person, link_key=key, now=now), write=True
    )
    _print_counts(counts)
    err.print("erased; the suppression list keeps only a keyed hash", markup=False)


def export_command(
    phone: PhoneOption = None, email: EmailOption = None, config: ConfigOption = None
) -> None:
    """Print, as JSON, everything held about a person (an access request)."""
    settings = settings_or_exit(config)
    person, key = _person(settings, phone, email)
    report = on_database(
        settings, lambda connection: held_about(connection, person, link_key=key), write=False
    )
    if not holds_anything(report):
        suppressed = " (only a keyed hash on the suppression list)" if report["suppressed"] else ""
        err.print(f"nothing held about this person{suppressed}", markup=False)
        return
    typer.echo(export_json(report))


@privacy_app.command("retention")
def retention_command(config: ConfigOption = None) -> None:
    """Anonymise now the shipments final for longer than [privacy] retention_days (the
    daily job does the same)."""
    settings = settings_or_exit(config)
    engine = engine_from(settings)
    try:
        schema.ensure_current(engine)
        _ = settings.link_key  # the hash of an opt-out is made with it
        counts = apply_retention(engine, settings=settings, now=datetime.now(UTC))
    except NotifierError as exc:
        raise command_failed(str(exc)) from exc
    finally:
        engine.dispose()
    _print_counts(counts)
    err.print(f"retention: {counts['shipments anonymised']} shipment(s) anonymised", markup=False)
