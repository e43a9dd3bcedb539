"""Final notices: held parcels whose last day is [slips] final_notice_days away, with the
place they wait at, its hours, and a link that lives until that day ends."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import SHIPMENTS
from notifier.locales import day_long
from notifier.rebooking import links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice, offered_days
from notifier.rendering.context import format_hours
from notifier.shipments import ShipmentRecord
from notifier.slips.final_notice import final_notice_count
from tests.integration.printing import OPS, ROME, Depot, grouped, tracking
from tests.pdftools import need_tools, page_count, page_texts, qr_codes


@pytest.fixture
def depot(engine: Engine) -> Depot:
    need_tools()
    return Depot(engine)


def held(site: Depot, number: int, days: int, **facts: object) -> dict[str, object]:
    """Parcel `number`, ready for collection since earlier today, held `days` from today."""
    until = site.day_after(days).isoformat()
    return site.event(number, "AVAILABLE_FOR_PICKUP", held_until=until, **facts)


def print_notices(depot: Depot, pdf: Path, *extra: str) -> list[str]:
    result = depot.cli(
        "slips", "--final-notice", "--date", depot.today.isoformat(), *extra, "-o", pdf
    )
    assert result.exit_code == 0, result.output
    return page_texts(pdf)


def test_a_parcel_held_until_the_notice_day_gets_a_notice_with_the_date_and_place(
    depot: Depot, tmp_path: Path
) -> None:
    days = depot.settings.slips.final_notice_days
    assert days == 3
    depot.store(
        held(depot, 1, days, pickup_point="PP-MI-12", route_stop=4),
        held(depot, 2, days, route_stop=2, locale="en"),  # at the depot itself
        held(depot, 3, days, pickup_point="LK-MI-03", route_stop=3),
        held(depot, 4, days - 1, pickup_point="PP-MI-12"),  # yesterday's notice
        held(depot, 5, days + 1, pickup_point="PP-MI-12"),  # tomorrow's
        held(depot, 6, days, depot="TO01"),  # another depot's
    )
    pdf = tmp_path / "notices.pdf"
    texts = print_notices(depot, pdf, "--depot", "MI01")
    assert page_count(pdf) == 3
    assert all(grouped(tracking(n)) in text for n, text in zip((2, 3, 1), texts, strict=True))
    depot_notice, locker, kiosk = texts
    last = depot.day_after(days)
    places = {p.code: p for p in [*depot.settings.pickup_points, *depot.settings.depots]}
    for text, code, locale in (
        (depot_notice, "MI01", "en"),
        (locker, "LK-MI-03", "it"),
        (kiosk, "PP-MI-12", "it"),
    ):
        place = places[code]
        assert day_long(last, locale) in text, code
        assert place.name in text, code
        assert place.address in text, code
        assert format_hours(place.hours, locale) in text, code
    said_it = f"il suo pacco la aspetta fino a {day_long(last, 'it')}, poi tornerà al mittente."
    assert f"Ultimo avviso: {said_it}" in kiosk
    said_en = f"your parcel waits for you until {day_long(last, 'en')}, then it goes back"
    assert f"Last notice: {said_en} to the sender." in depot_notice
    assert "Assistenza clienti: +39 02 1234 5678" in kiosk
    assert "Non chiediamo mai pagamenti né dati della carta via SMS, email o link" in kiosk
    assert "We never ask for payment or card details by text, email or link" in depot_notice
    live = depot.live_urls()
    assert qr_codes(pdf, dpi=100) == [[live[tracking(n)]] for n in (2, 3, 1)]
    with depot.client() as client:
        page = client.get(f"/r/{depot.token(live[tracking(1)])}").text
        assert "Il pacco è pronto per il ritiro." in page
    # Without --depot, every depot's notices of the day.
    assert len(print_notices(depot, tmp_path / "all.pdf")) == 4


def test_a_pickup_point_the_configuration_does_not_know_names_no_place(
    depot: Depot, tmp_path: Path
) -> None:
    depot.store(held(depot, 1, 3, pickup_point="PP-XX-99"))
    (text,) = print_notices(depot, tmp_path / "notice.pdf")
    assert "Per sapere dove ritirarlo, chiami l'assistenza clienti." in text
    for place in [*depot.settings.pickup_points, *depot.settings.depots]:
        assert place.name not in text
        assert place.address not in text


def test_the_printed_link_lives_until_the_parcels_last_day_ends(
    depot: Depot, tmp_path: Path
) -> None:
    # Announced twelve days ago: its link would end two days from now, before the hold.
    created = depot.now - timedelta(days=12)
    depot.store(depot.event(1, "CREATED", at=created))
    depot.store(held(depot, 1, 3))
    (before,) = depot.live_urls().values()
    assert depot.expires_at(before) < depot.now + timedelta(days=3)
    pdf = tmp_path / "notice.pdf"
    print_notices(depot, pdf)
    end = datetime.combine(depot.day_after(4), time(0), tzinfo=ROME)
    assert qr_codes(pdf, dpi=100) == [[before]]
    assert depot.expires_at(before) == end
    assert depot.live_count() == {tracking(1): 1}


def test_a_missed_delivery_held_at_the_depot_gets_one_unless_rebooked_for_delivery(
    depot: Depot, tmp_path: Path
) -> None:
    until = depot.day_after(3).isoformat()
    attempt = {"reason": "RECIPIENT_ABSENT", "held_until": until}
    depot.store(
        depot.event(1, "DELIVERY_ATTEMPTED", route_stop=1, **attempt),
        depot.event(2, "DELIVERY_ATTEMPTED", route_stop=2, **attempt),
    )
    # Parcel 2's recipient books another day: the notice would tell them to rebook.
    with write_transaction(depot.engine) as connection:
        shipment = ShipmentRecord.from_mapping(
            connection.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking(2)))
            .one()
            ._mapping
        )
        link = links.live_links(
            connection,
            [shipment.id],
            key=depot.settings.link_key,
            settings=depot.settings,
            now=depot.now,
        )[shipment.id]
        day = offered_days(depot.settings, depot.now)[0]
        window = depot.settings.rebooking.slots[0].window
        rebooking.book(
            connection,
            link=link,
            shipment=shipment,
            choice=Choice(kind="slot", day=day, window=window),
            submission="form-1",
            settings=depot.settings,
            now=depot.now,
        )
    pdf = tmp_path / "notices.pdf"
    (text,) = print_notices(depot, pdf)
    assert grouped(tracking(1)) in text
    assert day_long(depot.day_after(3), "it") in text
    assert depot.settings.depots[0].name in text


def test_counting_reads_only(depot: Depot) -> None:
    depot.store(held(depot, 1, 3), held(depot, 2, 3, depot="TO01"), held(depot, 3, 4))
    rows = depot.link_rows()
    with read_transaction(depot.engine) as connection:
        counts = [
            final_notice_count(
                connection, day=depot.day_after(shift), depot=code, settings=depot.settings
            )
            for shift, code in ((0, None), (0, "MI01"), (0, "TO01"), (1, None), (2, None))
        ]
    assert counts == [2, 1, 1, 1, 0]
    assert depot.link_rows() == rows


def test_nothing_to_notify_says_so_and_exits_1(depot: Depot, tmp_path: Path) -> None:
    pdf = tmp_path / "none.pdf"
    result = depot.cli("slips", "--final-notice", "--date", depot.today.isoformat(), "-o", pdf)
    assert result.exit_code == 1
    held_until = depot.day_after(3).isoformat()
    assert f"no parcels held for collection until {held_until}" in result.output
    assert "nothing to print" in result.output
    assert not pdf.exists()


def test_the_ops_page_serves_the_notices_behind_the_ops_password(
    depot: Depot, tmp_path: Path
) -> None:
    depot.store(held(depot, 1, 3, pickup_point="PP-MI-12"))
    today = depot.today.isoformat()
    url = f"/ops/final-notices.pdf?date={today}"
    with depot.client() as client:
        assert client.get(url).status_code == 401
        answer = client.get(url, headers=OPS)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["cache-control"] == "no-store"
        assert f'filename="final-notices-{today}.pdf"' in answer.headers["content-disposition"]
        pdf = tmp_path / "ops.pdf"
        pdf.write_bytes(answer.content)
        assert qr_codes(pdf, dpi=100) == [[depot.live_urls()[tracking(1)]]]
        other = client.get(f"{url}&depot=TO01", headers=OPS)
        assert other.status_code == 404
        assert "no parcels held for collection until" in other.json()["error"]
        bad = client.get("/ops/final-notices.pdf?date=tomorrow", headers=OPS)
        assert bad.status_code == 422
