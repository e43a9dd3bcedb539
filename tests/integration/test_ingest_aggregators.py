"""`notifier ingest --format aftership|karrio`: storage, duplicates and outbox as native."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from notifier.cli import app
from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.db.models import OutboxRow, ShipmentRow
from tests.unit.carrier_payloads import own

runner = CliRunner()


@pytest.fixture
def migrated(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def ingest(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest", *args], env={"NOTIFIER_DATABASE_URL": url})
    return result.exit_code, result.output


def shipments(engine: Engine) -> dict[str, tuple[str, int]]:
    """Each tracking number's status and how many messages its shipment has queued."""
    with engine.connect() as connection:
        query = select(ShipmentRow.id, ShipmentRow.tracking_number, ShipmentRow.status)
        rows = connection.execute(query)
        found = {number: (status, shipment_id) for shipment_id, number, status in rows}
        queued = connection.execute(select(OutboxRow.shipment_id)).scalars().all()
    return {number: (status, queued.count(sid)) for number, (status, sid) in found.items()}


def recent(moment: datetime) -> str:
    """The command reads the real clock: events an hour old still call for messages."""
    return moment.astimezone(UTC).isoformat()


def aftership_payloads(now: datetime) -> list[dict[str, Any]]:
    attempt, _ = own("aftership_attempt_fail.json")
    for number, checkpoint in enumerate(attempt["msg"]["checkpoints"]):
        checkpoint["checkpoint_time"] = recent(now - timedelta(hours=3 - number))
    unknown, _ = own("aftership_unknown_tag.json")
    unknown["msg"]["checkpoints"][0]["checkpoint_time"] = recent(now - timedelta(hours=1))
    # The same recipient as the attempt: had the unknown tag called for a message, it
    # could have been sent.
    unknown["msg"]["customers"] = attempt["msg"]["customers"]
    return [attempt, unknown]


def test_aftership_webhooks_are_stored_once_and_an_unknown_tag_tells_nobody(
    tmp_path: Path, sqlite_url: str, migrated: Engine
) -> None:
    path = tmp_path / "aftership.jsonl"
    lines = [json.dumps(p) for p in aftership_payloads(datetime.now(UTC))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, output = ingest(sqlite_url, "--format", "aftership", str(path))

    assert code == 0, output
    assert "stored 2, duplicates 0, conflicts 0, rejected 0, unknown statuses 1" in output
    found = shipments(migrated)
    assert found["BRT0601234567"][0] == "DELIVERY_ATTEMPTED"
    assert found["BRT0601234567"][1] >= 1  # the missed-delivery message is queued
    assert found["BRT0601230000"] == ("UNKNOWN", 0)

    code, output = ingest(sqlite_url, "--format", "aftership", str(path))

    assert code == 0, output
    assert "stored 0, duplicates 2, conflicts 0, rejected 0" in output
    assert shipments(migrated) == found


def test_a_karrio_json_array_is_stored_with_each_element_line_in_its_errors(
    tmp_path: Path, sqlite_url: str, migrated: Engine
) -> None:
    now = datetime.now(UTC)
    pickup, _ = own("karrio_ready_for_pickup.json")
    pickup["data"]["events"][0]["timestamp"] = recent(now - timedelta(hours=2))
    returned, _ = own("karrio_return_to_sender.json")
    returned["data"]["events"][0]["timestamp"] = recent(now - timedelta(hours=1))
    broken, _ = own("karrio_out_for_delivery.json")
    del broken["data"]["tracking_number"]
    path = tmp_path / "karrio.json"
    # Pretty-printed, as saved from a webhook log: the broken one starts further down.
    path.write_text(json.dumps([pickup, broken, returned], indent=2), encoding="utf-8")
    broken_line = json.dumps([pickup, broken, returned], indent=2).splitlines().index("  {", 2) + 1

    code, output = ingest(sqlite_url, "--format", "karrio", str(path))

    assert code == 1
    assert "stored 2, duplicates 0, conflicts 0, rejected 1" in output
    assert f"{path}:{broken_line}: data.tracking_number: is required" in output
    found = shipments(migrated)
    assert {n: s for n, (s, _) in found.items()} == {
        "GLS1122334466": "AVAILABLE_FOR_PICKUP",
        "GLS1122334488": "RETURNING",
    }

    code, output = ingest(sqlite_url, "--format", "karrio", str(path))

    assert "stored 0, duplicates 2, conflicts 0, rejected 1" in output


def test_an_unknown_format_is_named_with_the_known_ones(
    tmp_path: Path, sqlite_url: str, migrated: Engine
) -> None:
    path = tmp_path / "events.json"
    path.write_text("[]", encoding="utf-8")
    code, output = ingest(sqlite_url, "--format", "sendcloud", str(path))
    assert code == 1
    assert "unknown format 'sendcloud'" in output
    assert "karrio, easypost, aftership, shippo" in output
