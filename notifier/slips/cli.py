"""`notifier slips` and `notifier slip`: the day's slips, route packs and final notices as
PDF files, as typer commands that notifier/cli.py registers.

Loads the configuration as the other commands do (notifier/cli.py cannot be imported from
here: it imports this). WeasyPrint is slow to import: only these commands, once they run,
load it. The functions underneath take `now`; only these commands read the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Connection

from notifier.config import Settings
from notifier.config.option import ConfigOption, settings_or_exit
from notifier.db.command import on_database

if TYPE_CHECKING:
    from notifier.slips.model import Layout, Slip

err = Console(stderr=True, highlight=False)
T = TypeVar("T")

LayoutOption = Annotated[
    str, typer.Option(help="a6: one slip per A6 page; a4x4: four per A4 sheet, with cut marks.")
]
OutputOption = Annotated[Path, typer.Option("--output", "-o", help="PDF file to write.")]


def _usage(message: str) -> typer.Exit:
    err.print(f"error: {message}", soft_wrap=True, markup=False)
    return typer.Exit(2)


def slips(
    day: Annotated[
        datetime,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Day of the attempts; with --route-pack, of the round; with --final-notice, "
            "the day the notices are printed.",
        ),
    ],
    output: OutputOption,
    depot: Annotated[str | None, typer.Option(help="Only this depot's code.")] = None,
    layout: LayoutOption = "a6",
    route_pack: Annotated[
        bool,
        typer.Option(
            "--route-pack",
            help="The round's route pack instead (needs --depot): one slip per parcel out "
            "for delivery that day or planned for it, in route order, each with its link.",
        ),
    ] = False,
    final_notice: Annotated[
        bool,
        typer.Option(
            "--final-notice",
            help="Final notices instead: parcels held for collection whose last day is "
            "slips.final_notice_days after --date.",
        ),
    ] = False,
    reissue: Annotated[
        bool,
        typer.Option(
            "--reissue",
            help="With --route-pack: new links for every parcel; the links printed before "
            "stop opening (a pack that went missing).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Print a day's missed-delivery slips, a round's route pack or a day's final notices.

    Missed deliveries and route packs come in route order; --depot keeps one depot's.
    """
    chosen = _layout(layout)
    if route_pack and final_notice:
        raise _usage("give one of --route-pack and --final-notice")
    if reissue and not route_pack:
        raise _usage("--reissue goes with --route-pack: only a route pack's links are reissued")
    if route_pack and depot is None:
        raise _usage("--route-pack needs --depot: a route pack is one depot's round")
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    if route_pack:
        assert depot is not None
        found, what = _route_pack(settings, day.date(), depot, reissue=reissue, now=now)
    elif final_notice:
        found, what = _final_notices(settings, day.date(), depot, now=now)
    else:
        found, what = _missed(settings, day.date(), depot, now=now)
    _write_slips(found, output, settings=settings, layout=chosen, now=now)
    err.print(f"{len(found)} {what} written to {output}")


def _missed(
    settings: Settings, day: date, depot: str | None, *, now: datetime
) -> tuple[list[Slip], str]:
    """The day's missed-delivery slips and what to call them; exit 1 when there are none."""
    from notifier.slips.store import day_slips

    found = _on_database(
        settings,
        lambda connection: day_slips(
            connection, day=day, depot=depot, key=settings.link_key, settings=settings, now=now
        ),
        write=False,
    )
    where = f" at depot {depot}" if depot else ""
    if not found:
        err.print(f"no open missed deliveries on {day}{where}: nothing to print")
        raise typer.Exit(1)
    return found, f"slips for {day}{where}"


def _route_pack(
    settings: Settings, day: date, depot: str, *, reissue: bool, now: datetime
) -> tuple[list[Slip], str]:
    """The round's route pack and what to call it; exit 1 when no parcel is on it."""
    from notifier.slips.route_pack import route_pack_slips

    found = _on_database(
        settings,
        lambda connection: route_pack_slips(
            connection,
            day=day,
            depot=depot,
            reissue=reissue,
            key=settings.link_key,
            settings=settings,
            now=now,
        ),
        write=True,
    )
    if not found:
        err.print(
            f"no parcels on depot {depot}'s round on {day} (out for delivery that day, or "
            "planned for it): nothing to print"
        )
        raise typer.Exit(1)
    links = " with new links (the ones printed before no longer open)" if reissue else ""
    return found, f"route slips for depot {depot}'s round on {day}{links}"


def _final_notices(
    settings: Settings, day: date, depot: str | None, *, now: datetime
) -> tuple[list[Slip], str]:
    """The day's final notices and what to call them; exit 1 when there are none."""
    from notifier.slips.final_notice import final_notice_slips, last_day

    found = _on_database(
        settings,
        lambda connection: final_notice_slips(
            connection, day=day, depot=depot, key=settings.link_key, settings=settings, now=now
        ),
        write=True,
    )
    where = f" at depot {depot}" if depot else ""
    if not found:
        err.print(
            f"no parcels held for collection until {last_day(day, settings)}{where} "
            f"(final notices of {day}): nothing to print"
        )
        raise typer.Exit(1)
    return found, f"final notices of {day} (held until {last_day(day, settings)}){where}"


def slip(
    tracking_number: Annotated[str, typer.Argument(help="The parcel's tracking number.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    layout: LayoutOption = "a6",
    format: Annotated[
        str, typer.Option(help="pdf, or zpl: a label for the driver's Zebra-compatible printer.")
    ] = "pdf",
    width_mm: Annotated[
        float | None, typer.Option(help="zpl: media width, 48-104 mm (default: the depot's).")
    ] = None,
    dpi: Annotated[int | None, typer.Option(help="zpl: 203 or 300 (default: the depot's).")] = None,
    config: ConfigOption = None,
) -> None:
    """Print the slip of one parcel's latest missed delivery (PDF, or ZPL for a label printer)."""
    from notifier.slips.store import shipment_slip

    if format not in ("pdf", "zpl"):
        raise _usage(f"--format must be pdf or zpl, not {format!r}")
    if format == "pdf" and (width_mm is not None or dpi is not None):
        raise _usage("--width-mm and --dpi are for --format zpl")
    _check_media(width_mm, dpi)
    chosen = _layout(layout)
    settings = settings_or_exit(config)
    now = datetime.now(UTC)
    found = _on_database(
        settings,
        lambda connection: shipment_slip(
            connection, tracking_number, key=settings.link_key, settings=settings, now=now
        ),
        write=False,
    )
    if found is None:
        err.print(f"{tracking_number}: no missed delivery open for rebooking")
        raise typer.Exit(1)
    if format == "zpl":
        _write_label(found, output, settings=settings, width_mm=width_mm, dpi=dpi, now=now)
    else:
        _write_slips([found], output, settings=settings, layout=chosen, now=now)
    err.print(f"slip for {found.facts.tracking_number} written to {output}")


def _check_media(width_mm: float | None, dpi: int | None) -> None:
    from notifier.slips.zpl import DPIS, WIDTH_MM

    narrowest, widest = WIDTH_MM
    if width_mm is not None and not narrowest <= width_mm <= widest:
        raise _usage(
            f"--width-mm: {width_mm:g} mm is no label printer's media ({narrowest:g} to {widest:g})"
        )
    if dpi is not None and dpi not in DPIS:
        said = " or ".join(str(d) for d in DPIS)
        raise _usage(f"--dpi: label printers print at {said} dpi, not {dpi}")


def _write_label(
    found: Slip,
    output: Path,
    *,
    settings: Settings,
    width_mm: float | None,
    dpi: int | None,
    now: datetime,
) -> None:
    from notifier.slips.zpl import label_printer_for, render_slip_zpl

    printer = label_printer_for(settings, found.facts.depot)
    try:
        label = render_slip_zpl(
            found,
            settings=settings,
            width_mm=printer.width_mm if width_mm is None else width_mm,
            dpi=printer.dpi if dpi is None else dpi,
            now=now,
        )
    except ValueError as exc:  # LabelMediaError: a width or dpi no printer has
        raise _usage(str(exc)) from exc
    _write(output, label.encode("utf-8"))


def _on_database(settings: Settings, work: Callable[[Connection], T], *, write: bool) -> T:
    """`work(connection)` in one transaction on a current database, the key checked first."""

    def keyed(connection: Connection) -> T:
        # Links are derived from the key: fail here, not halfway through a print run.
        _ = settings.link_key
        return work(connection)

    return on_database(settings, keyed, write=write)


def _layout(value: str) -> Layout:
    if value not in ("a6", "a4x4"):
        raise _usage(f"--layout must be a6 or a4x4, not {value!r}")
    return "a6" if value == "a6" else "a4x4"


def _write_slips(
    found: list[Slip], output: Path, *, settings: Settings, layout: Layout, now: datetime
) -> None:
    from notifier.slips.pdf import render_slips_pdf

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"rendering {len(found)} slips", total=len(found))
        pdf = render_slips_pdf(
            found,
            settings=settings,
            layout=layout,
            now=now,
            progress=lambda done: progress.update(task, completed=done),
        )
    _write(output, pdf)


def _write(output: Path, content: bytes) -> None:
    try:
        output.write_bytes(content)
    except OSError as exc:
        err.print(f"error: cannot write {output}: {exc.strerror}")
        raise typer.Exit(2) from exc
