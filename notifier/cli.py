"""The command line: builds Settings from --config and wires the parts for each command."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import AnyHttpUrl
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from notifier import __version__
from notifier.config import Settings, load_settings
from notifier.config.loading import find_config_path
from notifier.config.option import ConfigOption
from notifier.config.pitfalls import setup_errors, setup_warnings
from notifier.db import schema
from notifier.db.engine import engine_from, make_engine, read_transaction
from notifier.errors import ConfigError, NotifierError
from notifier.jsonlog import configure_logging
from notifier.metrics import multiprocess_problem
from notifier.ops.cli import callbacks_app
from notifier.ops.cli import promises as promises_command
from notifier.privacy.cli import register as register_privacy
from notifier.slips.cli import slip as slip_command
from notifier.slips.cli import slips as slips_command
from notifier.templatecheck.cli import templates_app

app = typer.Typer(
    help="notifier: proactive delivery notifications, missed-delivery slips and rebooking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(templates_app, name="templates")
app.add_typer(callbacks_app, name="callbacks")
register_privacy(app)  # erase, export, privacy retention

err = Console(stderr=True, highlight=False)

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]


def _settings(config: Path | None) -> Settings:
    path = find_config_path(config, os.environ)
    try:
        return load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", markup=True, soft_wrap=True)
        raise typer.Exit(2) from exc


def _fail(exc: NotifierError, code: int = 2) -> typer.Exit:
    err.print(f"error: {exc}", soft_wrap=True)
    return typer.Exit(code)


def _logging(settings: Settings) -> None:
    configure_logging(settings.logging.format)
    problem = multiprocess_problem(os.environ)  # the metrics' files: checked as early
    if problem is not None:
        err.print(f"error: {escape(problem)}", soft_wrap=True)
        raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"notifier {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """notifier: proactive delivery notifications, missed-delivery slips and rebooking."""


@app.command("check-config")
def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="File to check (default as --config).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check a configuration file; name the key and problem of every error (exit 2).

    Set-ups that load but will not work as meant (a sender that cannot receive replies,
    a public address Twilio cannot reach) are warnings: named the same way, exit 0.
    """
    settings = _settings(path or config)
    source = find_config_path(path or config, os.environ)
    errors = setup_errors(settings)
    for problem in errors:
        err.print(f"error {escape(str(problem))}", soft_wrap=True)
    if errors:
        raise typer.Exit(2)
    warnings = setup_warnings(settings, source=str(source))
    for warning in warnings:
        err.print(f"[yellow]warning[/yellow] {escape(str(warning))}", markup=True, soft_wrap=True)
    counts = f"{len(settings.depots)} depots, {len(settings.rules)} rules"
    if warnings:
        counts += f", {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
    typer.echo(f"{source}: OK ({counts})")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create the database schema, or bring it up to date."""
    settings = _settings(config)
    # No statement timeout: building an index on a large table may take minutes.
    database = settings.database
    engine = make_engine(database.url, lock_timeout_seconds=database.lock_timeout_seconds)
    try:
        before = schema.current_revision(engine)
        schema.upgrade(engine)
    except NotifierError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    head = schema.head_revision()
    typer.echo(f"schema at {head}" + ("" if before == head else f" (was {before or 'empty'})"))


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Print the schema version of the database and the one this notifier needs."""
    settings = _settings(config)
    engine = engine_from(settings)
    try:
        current = schema.current_revision(engine)
    except NotifierError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    head = schema.head_revision()
    state = "up to date" if current == head else "out of date: run `notifier db upgrade`"
    typer.echo(f"database {current or 'empty'}, needed {head}: {state}")
    if current != head:
        raise typer.Exit(1)


def _ready_engine(settings: Settings) -> Engine:
    engine = engine_from(settings)
    try:
        schema.ensure_current(engine)
        # Links are derived from the key: fail here, not at the first missed delivery.
        _ = settings.link_key
    except NotifierError as exc:
        engine.dispose()
        raise _fail(exc) from exc
    return engine


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="JSON Lines (.jsonl) or CSV (.csv) files; aggregator exports."),
    ],
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="jsonl or csv for native events (default: from each file's extension); "
            "karrio, easypost, aftership or shippo for that provider's webhook payloads, "
            "one a line or one JSON array.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write every rejected line (file, line, field, reason) to this CSV."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Store events from files; rejected lines are reported and the exit code is 1."""
    from notifier.ingest.fileimport import FileImport

    settings = _settings(config)
    engine = _ready_engine(settings)
    run = FileImport(
        engine=engine,
        settings=settings,
        console=err,
        report_path=report,
        now=lambda: datetime.now(UTC),
    )
    try:
        ok = run.ingest_files(files, file_format)
    except KeyboardInterrupt:
        err.print(f"interrupted: {run.summary_line()}; run the same command again to finish")
        raise typer.Exit(130) from None
    finally:
        engine.dispose()
    err.print(run.summary_line())
    raise typer.Exit(0 if ok else 1)


# The slip commands load WeasyPrint only when they run.
app.command("slips")(slips_command)
app.command("slip")(slip_command)


@app.command()
def bookings(
    day: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The day the list is for.")
    ],
    depot: Annotated[str | None, typer.Option(help="Only this depot's code.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="csv (with a header row) or json (an array).")
    ] = "csv",
    config: ConfigOption = None,
) -> None:
    """Print a day's rebookings for the depot: slots, pickups, neighbours, callbacks, disputes."""
    from notifier.ops.bookings import build_csv, build_json
    from notifier.ops.store import depot_bookings

    if output_format not in ("csv", "json"):
        err.print(f"error: --format must be csv or json, not {output_format!r}")
        raise typer.Exit(2)
    settings = _settings(config)
    engine = engine_from(settings)
    try:
        schema.ensure_current(engine)
        with read_transaction(engine) as connection:
            found = depot_bookings(connection, day=day.date(), depot=depot, settings=settings)
    except NotifierError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    typer.echo(build_csv(found) if output_format == "csv" else build_json(found), nl=False)
    where = f" at depot {depot}" if depot else ""
    err.print(f"{len(found)} bookings for {day.date()}{where}")


app.command("promises")(promises_command)


@app.command()
def run(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            help="Feed a few demo shipments' events over the first minutes "
            "(NOTIFIER_DEMO_PHONE / NOTIFIER_DEMO_EMAIL send them to you)."
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Serve the web app and run the scheduler in one process (one machine, SQLite)."""
    _serve(config, host, port, with_scheduler=True, demo=demo)


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    config: ConfigOption = None,
) -> None:
    """Serve the web app only (scale-out: run `notifier worker` elsewhere)."""
    _serve(config, host, port, with_scheduler=False)


def _local_rebooking(settings: Settings, host: str, port: int) -> Settings:
    """Demo links open this server's own rebooking page, not the courier's real domain."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (a check, not a bind)
    company = settings.company.model_copy(
        update={"rebooking_base_url": AnyHttpUrl(f"http://{shown}:{port}/r/")}
    )
    return settings.model_copy(update={"company": company})


def _serve(
    config: Path | None, host: str, port: int, *, with_scheduler: bool, demo: bool = False
) -> None:
    import uvicorn

    from notifier.ingest.demo import DemoFeed, demo_events
    from notifier.scheduler import build_scheduler
    from notifier.site import build_site
    from notifier.web.access_log import uvicorn_log_config

    settings = _settings(config)
    _logging(settings)
    engine = _ready_engine(settings)
    feed = None
    if demo:
        settings = _local_rebooking(settings, host, port)
        feed = DemoFeed(engine, settings, demo_events(datetime.now(UTC), os.environ))
        quiet = settings.quiet_hours
        err.print(
            f"demo: {len(feed.events)} events over the next 3 minutes; messages print here "
            f"(quiet hours {quiet.start:%H:%M}-{quiet.end:%H:%M} hold them until morning)"
        )
    scheduler = build_scheduler(settings, engine, demo=feed) if with_scheduler else None
    web = build_site(settings, engine=engine, scheduler=scheduler)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again and so dies
    # by it (exit -15). Raised as KeyboardInterrupt, which uvicorn.run absorbs, it ends
    # with exit 0 as Ctrl-C and `notifier worker` do: a supervisor's stop is not a crash.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # The access log without tokens, tracking numbers or client addresses.
        log_config = uvicorn_log_config(settings.logging.format)
        uvicorn.run(
            web,
            host=host,
            port=port,
            log_level="info",
            log_config=log_config,
            # The client's address (rate limits) from X-Forwarded-For only via these.
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.web.trusted_proxies),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        engine.dispose()


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Sends in flight at once (default: [dispatch])."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the scheduler only: dispatch and other timed jobs (any number may run).

    SIGTERM or Ctrl-C stops the claiming; the messages in flight are sent and recorded
    before the process exits.
    """
    from notifier.scheduler import build_dispatcher, build_scheduler

    settings = _settings(config)
    _logging(settings)
    if concurrency is not None:
        dispatch = settings.dispatch.model_copy(update={"concurrency": concurrency})
        settings = settings.model_copy(update={"dispatch": dispatch})
    engine = _ready_engine(settings)
    dispatcher = build_dispatcher(settings, engine)
    scheduler = build_scheduler(settings, engine, dispatcher=dispatcher)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, and how supervisors stop us
        signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    # Woken every second: a signal that reached another thread (after SIGSTOP/SIGCONT,
    # say) runs its handler only when the main thread next runs Python code.
    while not stop.wait(timeout=1.0):
        pass
    # Within the lease: past it, another worker may take the rows still in flight.
    scheduler.shutdown(timeout=settings.dispatch.lease_seconds)
    engine.dispose()


@app.command()
def inbox(
    once: Annotated[
        bool, typer.Option("--once", help="Take what is ready now, then exit.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Ingest the files in ingest.inbox_dir now (`notifier worker` keeps watching it).

    A file without its `<name>.done` marker must stay the same for inbox_stable_seconds,
    so it is looked at twice, that far apart. Exit 1 unless every file went to done/.
    """
    from notifier import jobs
    from notifier.ingest.inbox import Inbox

    settings = _settings(config)
    if not once:
        err.print("error: give --once (`notifier worker` is the one that keeps watching)")
        raise typer.Exit(2)
    if settings.ingest.inbox_dir is None:
        err.print("error: set ingest.inbox_dir in the configuration to name the inbox")
        raise typer.Exit(2)
    _logging(settings)
    engine = _ready_engine(settings)
    box = Inbox(root=settings.ingest.inbox_dir, engine=engine, settings=settings)
    try:
        passes = [jobs.watch_inbox(box)]
        if passes[0] is not None and passes[0].waiting:
            time.sleep(settings.ingest.inbox_stable_seconds)
            passes.append(jobs.watch_inbox(box))
    finally:
        engine.dispose()
    ok = all(p and not p.deferred and all(f.folder == "done" for f in p.filed) for p in passes)
    raise typer.Exit(0 if ok else 1)


@app.command()
def webhooks(config: ConfigOption = None) -> None:
    """Print the addresses Twilio and the aggregators call us at, on web.public_base_url.

    Give Twilio's second to your number or Messaging Service as "A message comes in" (HTTP
    POST); the first is sent with every SMS, for its delivery receipts. Each aggregator's
    is its webhook URL, on while its NOTIFIER_WEBHOOK_SECRET_<NAME> is set.
    """
    from notifier.config.secrets import AGGREGATORS, WEBHOOK_SECRET_ENV
    from notifier.urls import aggregator_webhook_url, twilio_inbound_url, twilio_status_url

    settings = _settings(config)
    try:
        typer.echo(f"delivery receipts (sent with each SMS): {twilio_status_url(settings)}")
        typer.echo(f"a message comes in (HTTP POST):         {twilio_inbound_url(settings)}")
    except NotifierError as exc:  # no NOTIFIER_SECRET_KEY: the tokens are derived from it
        raise _fail(exc) from exc
    for source in AGGREGATORS:
        env = f"{WEBHOOK_SECRET_ENV}{source.upper()}"
        url = aggregator_webhook_url(settings, source)
        url += f"?token=<{env}>" if source == "shippo" else ""
        state = "on" if source in settings.secrets.webhook_secrets else f"off: set {env}"
        typer.echo(f"{source + ' webhook:':<40}{url} ({state})")


def main() -> None:
    try:
        app()
    except NotifierError as exc:  # anything not already turned into an exit code
        err.print(f"error: {exc}", soft_wrap=True)
        sys.exit(2)
