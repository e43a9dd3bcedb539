"""The whole web site: web.create_app plus the pages that need the template tooling.

notifier.web sits below notifier.templatecheck in the layers (pyproject.toml), so the
pages that run the checks (GET /ops/templates) are mounted here, from above both.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from notifier.config import Settings
from notifier.scheduler import NotifierScheduler
from notifier.templatecheck import ops_page
from notifier.web.app import create_app
from notifier.web.clock import Clock, wall_clock


def build_site(
    settings: Settings,
    *,
    engine: Engine | None = None,
    scheduler: NotifierScheduler | None = None,
    clock: Clock = wall_clock,
) -> FastAPI:
    """create_app's app with the template previews; what `notifier serve` and `run` serve."""
    app = create_app(settings, engine=engine, scheduler=scheduler, clock=clock)
    ops_page.install(app)
    return app
