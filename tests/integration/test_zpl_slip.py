"""Label-printer slips from the API: ZPL drawn by an independent renderer (zpl-renderer-js)
and its QR code read back with zbar, against the PDF slip of the same missed delivery."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from notifier.db.engine import make_engine, read_transaction
from notifier.slips.pdf import render_slips_pdf
from notifier.slips.qr import QUIET_ZONE, build_qr_matrix
from notifier.slips.store import shipment_slip
from notifier.web.app import create_app
from tests.conftest import EventFactory, make_settings
from tests.integration.conftest import API_KEY, AUTH, JSON, ClientFactory, post_events
from tests.pdftools import need_tools, qr_codes
from tests.zpltools import (
    command_value,
    decode_qr,
    field_with,
    lines_alone,
    need_renderer,
    qr_fields,
    render_png,
    text_fields,
)

ROME = ZoneInfo("Europe/Rome")
TRACKING = "RP123456789IT"
PATH = f"/api/v1/shipments/{TRACKING}/slip.zpl"
LONG_NAME = "Niccolò Bartolomeo Fiorentino-Sant'Angelo"
DOTS_PER_MM = 8  # the renderer's 203 dpi


def attempted(make_event: EventFactory, *, minutes_ago: int = 5, **changes: Any) -> dict[str, Any]:
    """A missed delivery a few minutes ago (links expire from the real clock the API reads)."""
    moment = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    fields: dict[str, Any] = {
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": moment.astimezone(ROME).isoformat(),
        "recipient": {"name": LONG_NAME, "phone": "+39 333 123 4567", "locale": "it"},
    }
    return make_event(**{**fields, **changes})


def post_for_slips(client: TestClient, body: Any, **query: str) -> Any:
    """POST events with the test key and a query string (?slip=zpl&width_mm=...)."""
    return client.post(
        f"/api/v1/events?{urlencode(query)}",
        content=json.dumps(body).encode(),
        headers={**AUTH, **JSON},
    )


def dark_parts(zpl: str, out: Path, *, width: int, height: int) -> Image.Image:
    """The label drawn on a canvas of width x height dots: its dark pixels white, the rest
    black (so getbbox() is where there is ink)."""
    png = render_png(
        zpl, out, width_mm=width / DOTS_PER_MM, height_mm=height / DOTS_PER_MM, dpmm=DOTS_PER_MM
    )
    return Image.open(png).convert("L").point(lambda v: 255 if v < 128 else 0)


def local_time(event: dict[str, Any]) -> str:
    return datetime.fromisoformat(event["occurred_at"]).astimezone(ROME).strftime("%H:%M")


# ------------------------------------------------------------- drawn and scanned


@pytest.mark.slow
@pytest.mark.parametrize("width_mm", [104, 72], ids=["4in", "3in"])
def test_the_label_scans_to_the_same_link_as_the_pdf_slip_and_stays_on_the_media(
    engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    tmp_path: Path,
    width_mm: int,
) -> None:
    need_renderer()
    need_tools()
    client = make_client(engine)
    event = attempted(make_event)
    assert post_events(client, event).json()["stored"] == 1

    response = client.get(f"{PATH}?width_mm={width_mm}&dpi=203", headers=AUTH)

    assert response.status_code == 200
    zpl = response.text
    settings = client.app.state.settings  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with read_transaction(engine) as connection:
        slip = shipment_slip(
            connection, TRACKING, key=settings.link_key, settings=settings, now=now
        )
    assert slip is not None
    assert slip.facts.rebooking_url
    pdf = tmp_path / "slip.pdf"
    pdf.write_bytes(render_slips_pdf([slip], settings=settings, layout="a6", now=now))
    pdf_codes = [code for page in qr_codes(pdf) for code in page]
    assert pdf_codes == [slip.facts.rebooking_url]

    width, length = command_value(zpl, "^PW"), command_value(zpl, "^LL")
    png = render_png(
        zpl,
        tmp_path / "label.png",
        width_mm=width_mm,
        height_mm=length / DOTS_PER_MM,
        dpmm=DOTS_PER_MM,
    )
    assert decode_qr(png) == pdf_codes

    # Drawn without ^PW on a larger canvas, nothing is dark beyond the media's width or
    # below the label's length: nothing would be cut off.
    unbounded = re.sub(r"\^PW\d+", "", zpl)
    free = dark_parts(unbounded, tmp_path / "free.png", width=width + 160, height=length + 160)
    inked = free.getbbox()
    assert inked is not None
    assert inked[2] <= width
    assert inked[3] <= length

    # The code as drawn, in a box with its quiet zone that nothing else may reach: whole
    # (white all round it) and at least 25 mm wide.
    (qr,) = qr_fields(zpl)
    quiet = QUIET_ZONE * qr.magnification
    side = (len(build_qr_matrix(slip.facts.rebooking_url)) - 2 * QUIET_ZONE) * qr.magnification
    box = (
        qr.x - quiet // 2,
        qr.y - quiet // 2,
        qr.x + side + quiet // 2,
        qr.y + side + 10 + quiet // 2,
    )
    code_box = free.crop(box)
    drawn = code_box.getbbox()
    assert drawn is not None
    assert drawn[0] > 0
    assert drawn[1] > 0
    assert drawn[2] < code_box.width
    assert drawn[3] < code_box.height
    assert (drawn[2] - drawn[0]) / 203 * 25.4 >= 25.0

    # Each line drawn alone is no wider than the block it was laid out for: the printer
    # breaks lines where the layout did, and no line runs over the next.
    alone, bands = lines_alone(zpl)
    lines = dark_parts(alone, tmp_path / "lines.png", width=2 * width, height=bands[-1][0] + 200)
    for top, height, block_width in bands:
        line = lines.crop((0, top, lines.width, top + 2 * height)).getbbox()
        assert line is not None
        assert line[2] <= block_width

    # What the label says, from its field data.
    assert f"alle {local_time(event)} abbiamo provato" in field_with(zpl, "abbiamo provato").text
    assert field_with(zpl, "RP12").text == "RP12 3456 789IT"
    assert field_with(zpl, "Niccolò").text == f"per {LONG_NAME}"
    code = slip.facts.short_code or ""
    assert field_with(zpl, code[:4]).text == f"{code[:4]} {code[4:]}"


# ------------------------------------------------------------- GET slip.zpl


def test_the_label_is_plain_utf8_text_never_cached_on_the_depot_s_printer(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(
        engine,
        depots=[{"code": "MI01", "name": "Milano Nord", "address": "Via Esempio 12, Milano",
                 "label_printer": {"width_mm": 104, "dpi": 300}}],
    )  # fmt: skip
    post_events(client, attempted(make_event))

    default = client.get(PATH, headers=AUTH)
    asked = client.get(f"{PATH}?width_mm=48&dpi=203", headers=AUTH)

    assert default.status_code == 200
    assert default.headers["content-type"] == "text/plain; charset=utf-8"
    assert default.headers["cache-control"] == "no-store"
    assert default.text.startswith("^XA\n^CI28\n")
    assert command_value(default.text, "^PW") == 1228  # the depot's 104 mm at 300 dpi
    assert command_value(asked.text, "^PW") == 383  # 48 mm at 203 dpi
    assert "Niccolò" in default.content.decode("utf-8")


def test_the_tracking_number_may_be_typed_as_printed(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine)
    post_events(client, attempted(make_event))

    response = client.get("/api/v1/shipments/rp12 3456 789i t/slip.zpl", headers=AUTH)

    assert response.status_code == 200
    assert field_with(response.text, "RP12").text == "RP12 3456 789IT"


def test_without_a_valid_key_there_is_no_label(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine)
    post_events(client, attempted(make_event))

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"}):
        response = client.get(PATH, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "^XA" not in response.text
    off = make_client(sqlite_engine, env={}).get(PATH, headers=AUTH)
    assert off.status_code == 503


def test_a_parcel_without_an_open_missed_delivery_is_404(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    # On its way: the parcel has a live link, but no attempt to tell of.
    post_events(client, make_event(status="OUT_FOR_DELIVERY", tracking_number="RP000000001IT"))

    for tracking in ("RP000000001IT", "RP999999999IT", "X" * 500):
        response = client.get(f"/api/v1/shipments/{tracking}/slip.zpl", headers=AUTH)
        assert response.status_code == 404
        assert response.json() == {
            "error": "this parcel has no open missed delivery: there is no slip to print"
        }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("width_mm=47.9", "width_mm"),
        ("width_mm=105", "width_mm"),
        ("width_mm=abc", "width_mm"),
        ("width_mm=nan", "width_mm"),
        ("width_mm=inf", "width_mm"),
        ("dpi=200", "dpi"),
        ("dpi=600", "dpi"),
        ("dpi=203.0", "dpi"),
    ],
)
def test_media_outside_what_the_printers_take_is_422_naming_the_field(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    query: str,
    field: str,
) -> None:
    client = make_client(sqlite_engine)
    post_events(client, attempted(make_event))

    response = client.get(f"{PATH}?{query}", headers=AUTH)

    assert response.status_code == 422
    assert response.json()["error"].startswith(f"{field}: ")


def test_with_the_database_down_it_is_503_with_retry_after_and_logs_no_personal_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    settings = make_settings(str(engine.url), env={"NOTIFIER_API_KEY": API_KEY})
    try:
        with (
            TestClient(create_app(settings, engine=engine)) as client,
            caplog.at_level(logging.DEBUG),
        ):
            response = client.get(PATH, headers=AUTH)
    finally:
        engine.dispose()

    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "database" in response.json()["error"]
    # Ours, not the test client's request log.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("notifier"))
    assert "slip.zpl: database unavailable (OperationalError)" in logged
    assert TRACKING not in logged
    assert "missing" not in logged


# ------------------------------------------------------------- POST ?slip=zpl


def test_a_posted_missed_delivery_comes_back_with_its_label(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    attempt = attempted(make_event)
    other = make_event(status="OUT_FOR_DELIVERY", tracking_number="RP000000002IT")
    bad = make_event(occurred_at="not a time")

    response = post_for_slips(client, [attempt, other, bad, attempt], slip="zpl")

    assert response.status_code == 200
    first, on_its_way, rejected, duplicate = response.json()["results"]
    assert first["result"] == "stored"
    zpl = first["slip_zpl"]
    assert zpl.startswith("^XA")
    assert zpl.rstrip().endswith("^XZ")
    assert f"alle {local_time(attempt)}" in field_with(zpl, "abbiamo provato").text
    assert command_value(zpl, "^PW") == 575  # the default printer: 72 mm at 203 dpi
    # Only a stored missed delivery has a slip.
    assert "slip_zpl" not in on_its_way
    assert rejected["result"] == "rejected"
    assert "slip_zpl" not in rejected
    assert duplicate["result"] == "duplicate"
    assert "slip_zpl" not in duplicate
    # It is the same label the GET serves.
    assert client.get(PATH, headers=AUTH).text == zpl

    again = post_for_slips(client, attempt, slip="zpl")
    assert again.json()["results"] == [
        {"index": 0, "event_id": attempt["event_id"], "result": "duplicate"}
    ]


def test_the_posted_label_takes_the_media_from_the_query(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine)

    response = post_for_slips(client, attempted(make_event), slip="zpl", width_mm="48", dpi="300")

    zpl = response.json()["results"][0]["slip_zpl"]
    assert command_value(zpl, "^PW") == 566  # 48 mm at 300 dpi
    assert min(f.height for f in text_fields(zpl)) >= 11 / 72 * 300


def test_an_attempt_overtaken_in_the_same_batch_gets_no_label(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    older = attempted(make_event, minutes_ago=50, reason="BUSINESS_CLOSED")
    newer = attempted(make_event, minutes_ago=5)

    results = post_for_slips(client, [older, newer], slip="zpl").json()["results"]

    assert [r["result"] for r in results] == ["stored", "stored"]
    assert results[0]["slip_zpl"] is None  # the parcel's slip tells of the other attempt
    assert f"alle {local_time(newer)}" in field_with(results[1]["slip_zpl"], "alle").text


@pytest.mark.parametrize(
    ("query", "field"),
    [({"slip": "pdf"}, "slip"), ({"slip": "zpl", "width_mm": "200"}, "width_mm")],
    ids=["slip", "width_mm"],
)
def test_a_bad_slip_query_is_422_and_stores_nothing(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    query: dict[str, str],
    field: str,
) -> None:
    client = make_client(sqlite_engine)
    event = attempted(make_event)

    response = post_for_slips(client, event, **query)

    assert response.status_code == 422
    assert response.json()["error"].startswith(f"{field}: ")
    assert post_events(client, event).json()["stored"] == 1  # not stored the first time


# ------------------------------------------------------------- the command


def test_the_command_writes_the_label_with_the_same_link(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from notifier.cli import app

    client = make_client(engine)
    assert post_events(client, attempted(make_event)).json()["stored"] == 1
    env = {"NOTIFIER_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    runner = CliRunner()
    out = tmp_path / "slip.zpl"
    args = ["slip", "rp12 3456 789it", "--format", "zpl", "-o", str(out)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    label = out.read_text(encoding="utf-8")
    served = client.get(PATH, headers=AUTH).text
    assert label.startswith("^XA")
    (qr,) = qr_fields(label)
    # The same live link as the API's label (the command reads its own configuration).
    assert [q.data for q in qr_fields(served)] == [qr.data]
    assert "RP12 3456 789IT" in [f.text for f in text_fields(label)]
    narrow = runner.invoke(app, [*args, "--width-mm", "50", "--dpi", "300"], env=env)
    assert narrow.exit_code == 0, narrow.output
    assert out.read_text(encoding="utf-8") != label
    assert [q.data for q in qr_fields(out.read_text(encoding="utf-8"))] == [qr.data]
    for bad, said in (
        (["--width-mm", "20"], "--width-mm: 20 mm"),
        (["--dpi", "150"], "--dpi:"),
        (["--format", "png"], "--format"),
    ):
        refused = runner.invoke(app, [*args, *bad], env=env)
        assert refused.exit_code == 2, bad
        assert said in refused.output, refused.output
    pdf_with_media = ["slip", TRACKING, "--width-mm", "72", "-o", str(tmp_path / "x.pdf")]
    assert runner.invoke(app, pdf_with_media, env=env).exit_code == 2
