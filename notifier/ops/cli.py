"""`notifier callbacks [done]` and `notifier promises`: the phone desk's list and the day's
figures, as typer commands that notifier/cli.py registers.

Loads the configuration as the other commands do (notifier/cli.py cannot be imported from
here: it imports this). The functions underneath take `now`; only these commands read
the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from notifier.config.option import ConfigOption, command_failed, settings_or_exit
from notifier.db.command import on_database
from notifier.ops.promises import callback_view, callbacks_text, figures_json, figures_text
from notifier.ops.store import Which, callbacks, day_figures
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promises import CallbackRefusedError, check_call
from notifier.vocabulary import PromiseState

callbacks_app = typer.Typer(help="The callbacks recipients booked: list them, mark one done.")
err = Console(stderr=True, highlight=False)

DayOption = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="Day of the windows (default: today)."),
]
DepotOption = Annotated[str | None, typer.Option(help="Only this depot's code.")]


@callbacks_app.callback(invoke_without_command=True)
def list_callbacks(
    ctx: typer.Context,
    day: DayOption = None,
    depot: DepotOption = None,
    due: Annotated[bool, typer.Option("--due", help="Only those not made yet.")] = False,
    overdue: Annotated[
        bool,
        typer.Option(
            "--overdue",
            help="Only those not made by the end of their window (any day unless --date).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List a day's callbacks: when, whom to call, about which parcel.

    Windows are in company time; each callback shows the number to call, the parcel and
    its missed delivery, and what came of the parcel's earlier callbacks.
    """
    if ctx.invoked_subcommand is not None:
        return
    if due and overdue:
        raise command_failed("--due and --overdue: give one of them")
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    which: Which = "overdue" if overdue else "due" if due else "all"
    chosen: date | None = day.date() if day is not None else None
    if chosen is None and not overdue:
        chosen = now.astimezone(ZoneInfo(settings.company.timezone)).date()
    found = on_database(
        settings,
        lambda connection: callbacks(
            connection, day=chosen, depot=depot, which=which, settings=settings, now=now
        ),
        write=False,
    )
    views = [callback_view(entry, settings=settings, now=now) for entry in found]
    typer.echo(callbacks_text(views), nl=False)
    count = f"{len(views)} callback{'' if len(views) == 1 else 's'}"
    kind = {"all": "", "due": " still to make", "overdue": " overdue"}[which]
    when = f" on {chosen.isoformat()}" if chosen else ""
    where = f" at depot {depot}" if depot else ""
    late = "" if which == "overdue" else f", {sum(view.overdue for view in views)} overdue"
    err.print(f"{count}{kind}{when}{where}{late}", markup=False)


@callbacks_app.command("done")
def mark_done(
    promise_id: Annotated[str, typer.Argument(metavar="ID", help="The callback's number (#).")],
    by: Annotated[str, typer.Option("--by", help="Who made the call.")],
    outcome: Annotated[str, typer.Option(help="reached, no_answer or wrong_number.")] = "reached",
    note: Annotated[str | None, typer.Option(help="What was said or agreed.")] = None,
    config: ConfigOption = None,
) -> None:
    """Mark a callback made: who, now, and what came of it.

    Inside its window the callback is kept; after it, broken and then kept.
    """
    try:
        number = int(promise_id)
    except ValueError:
        raise command_failed(f"ID: must be a callback's number, not {promise_id!r}") from None
    try:
        call = check_call(by, outcome, note)
    except CallbackRefusedError as exc:
        raise command_failed(str(exc)) from exc
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    state = on_database(
        settings,
        lambda connection: mark_callback_done(connection, number, call=call, now=now),
        write=True,
    )
    verdict = "kept" if state is PromiseState.KEPT else "broken, then kept: after its window"
    typer.echo(f"callback {number} done by {call.by}: {call.outcome.value} ({verdict})")


def promises(
    day: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Day of the windows.")
    ],
    depot: DepotOption = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text (a table) or json (an array).")
    ] = "text",
    config: ConfigOption = None,
) -> None:
    """Print a day's promises per depot and kind: kept, broken, late, open, excused.

    A promise counts on the day its window starts (company time); `late` are the broken
    ones kept afterwards, counted in `broken` too.
    """
    if output_format not in ("text", "json"):
        raise command_failed(f"--format must be text or json, not {output_format!r}")
    settings = settings_or_exit(config)
    found = on_database(
        settings,
        lambda connection: day_figures(connection, day=day.date(), depot=depot, settings=settings),
        write=False,
    )
    typer.echo(figures_text(found) if output_format == "text" else figures_json(found), nl=False)
