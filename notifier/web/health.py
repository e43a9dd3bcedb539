"""GET /healthz: database reachable and writable, schema current, scheduler ticking."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from notifier.db import schema
from notifier.db.writable import can_write
from notifier.errors import DatabaseUnavailableError

router = APIRouter()


class SchemaState(BaseModel):
    current: str | None = Field(description="The database's migration; null when unreachable.")
    required: str = Field(description="The migration this notifier needs.")
    up_to_date: bool


class SchedulerState(BaseModel):
    running: bool
    last_tick: str | None = Field(description="ISO 8601; null before the first tick.")
    ticks: int


class Health(BaseModel):
    """What /healthz answers, healthy (200) or not (503)."""

    status: Literal["ok", "unhealthy"]
    database: str = Field(
        description="`ok`, `not writable: ...` or `unreachable: <error type>`.",
        examples=["ok"],
    )
    schema_: SchemaState = Field(alias="schema")
    scheduler: SchedulerState | None = Field(
        default=None, description="Only in a process that runs the scheduler."
    )


@router.get(
    "/healthz",
    summary="Health check",
    responses={
        200: {
            "model": Health,
            "description": "Database writable, schema current, scheduler (where it runs) ticking.",
        },
        503: {
            "model": Health,
            "description": "Something above is not so: `status` is "
            "`unhealthy` and the fields say what.",
        },
    },
)
def healthz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    body: dict[str, Any] = {"status": "ok"}
    healthy = True
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = schema.current_revision(engine)
        # Reachable is not enough: events are acknowledged only once they are written.
        writable = can_write(engine)
        body["database"] = "ok" if writable else "not writable: locked or read-only"
        healthy = writable
    # Whatever the failure (refused, timed out, auth), the answer is the same: down.
    except (DatabaseUnavailableError, SQLAlchemyError, OSError) as exc:
        body["database"] = f"unreachable: {type(exc).__name__}"
        current, healthy = None, False
    head = schema.head_revision()
    body["schema"] = {"current": current, "required": head, "up_to_date": current == head}
    healthy = healthy and current == head
    scheduler = request.app.state.scheduler
    if scheduler is not None:
        beat = scheduler.health.last_tick
        body["scheduler"] = {
            "running": scheduler.running,
            "last_tick": beat.isoformat() if beat else None,
            "ticks": scheduler.health.ticks,
        }
        healthy = healthy and scheduler.running
    if not healthy:
        body["status"] = "unhealthy"
    return JSONResponse(body, status_code=200 if healthy else 503)
