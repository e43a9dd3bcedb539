"""Route packs: the round's slips before the round, each with a live link that survives
the attempt; from the CLI and the ops page, read back with poppler and zbar."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine

from notifier.db.engine import read_transaction, write_transaction
from notifier.slips.route_pack import route_pack_count, route_pack_slips
from tests.integration.printing import OPS, Depot, basic, grouped, tracking
from tests.pdftools import need_tools, page_count, page_texts, qr_codes


@pytest.fixture
def depot(engine: Engine) -> Depot:
    need_tools()
    return Depot(engine)


def ten_out_for_delivery(depot: Depot) -> list[str]:
    """Ten parcels out for delivery today at MI01 in shuffled stops, three of them in
    English; parcels that must stay out of the pack. The ten in route order."""
    stops = list(range(3, 13))
    random.Random(14).shuffle(stops)
    events = [
        depot.event(n, "OUT_FOR_DELIVERY", route_stop=stop, locale="en" if n % 3 == 0 else "it")
        for n, stop in zip(range(1, 11), stops, strict=True)
    ]
    events += [
        depot.event(90, "OUT_FOR_DELIVERY", depot="TO01", route_stop=1),  # another depot
        depot.event(91, "OUT_FOR_DELIVERY", at=depot.yesterday, route_stop=1),  # yesterday's
        depot.event(92, "IN_TRANSIT", at=depot.yesterday),  # no attempt planned
        depot.event(93, "OUT_FOR_DELIVERY", at=depot.yesterday),
        depot.event(93, "DELIVERED"),  # delivered today
    ]
    depot.store(*events)
    return [tracking(n) for _, n in sorted(zip(stops, range(1, 11), strict=True))]


def print_pack(depot: Depot, pdf: Path, *extra: str) -> list[str]:
    """The pack's links, page by page, as a phone reads them at 100 dpi."""
    args = ["slips", "--route-pack", "--date", depot.today.isoformat(), "--depot", "MI01"]
    result = depot.cli(*args, *extra, "-o", pdf)
    assert result.exit_code == 0, result.output
    decoded = qr_codes(pdf, dpi=100)
    assert all(len(codes) == 1 for codes in decoded), decoded
    return [codes[0] for codes in decoded]


def test_ten_parcels_out_for_delivery_make_ten_slips_in_route_order_each_opening_its_parcel(
    depot: Depot, tmp_path: Path
) -> None:
    expected = ten_out_for_delivery(depot)
    # Ingest gave each parcel a link for its "out for delivery" text: the pack prints it.
    announced = depot.live_urls()
    pdf = tmp_path / "pack.pdf"
    scanned = print_pack(depot, pdf)
    assert page_count(pdf) == 10
    assert len(set(scanned)) == 10
    assert scanned == [announced[number] for number in expected]
    assert depot.live_urls() == announced
    texts = page_texts(pdf)
    with depot.client() as client:
        for page, (number, url, text) in enumerate(zip(expected, scanned, texts, strict=True), 1):
            assert grouped(number) in text, f"page {page}"
            english = int(number[2:11]) % 3 == 0  # parcels 3, 6 and 9
            reasons = "nobody answered" if english else "non c'era nessuno"
            assert reasons in text, f"page {page}"
            answer = client.get(f"/r/{depot.token(url)}")
            assert answer.status_code == 200, f"page {page}"
            said = "It is out for delivery" if english else "Il pacco è in consegna"
            assert said in answer.text, f"page {page}"
    assert set(depot.live_count().values()) == {1}


def test_the_slip_says_the_day_in_words_and_has_room_for_the_time_and_the_reason(
    depot: Depot, tmp_path: Path
) -> None:
    from notifier.locales import day_long

    depot.store(
        depot.event(1, "OUT_FOR_DELIVERY", route_stop=1),
        depot.event(2, "OUT_FOR_DELIVERY", route_stop=2, locale="en"),
    )
    pdf = tmp_path / "pack.pdf"
    print_pack(depot, pdf)
    italian, english = page_texts(pdf)
    day_it = day_long(depot.today, "it")
    assert f"{day_it[:1].upper()}{day_it[1:]} alle ore" in italian
    assert "abbiamo provato a consegnare il suo pacco, ma:" in italian
    for reason in (
        "non c'era nessuno",
        "non siamo riusciti ad arrivare alla porta",
        "l'attività era chiusa",
        "serviva una firma o un pagamento",
        "l'indirizzo è incompleto o errato",
    ):
        assert reason in italian
    assert "Non chiediamo mai pagamenti né dati della carta via SMS, email o link" in italian
    assert "Assistenza clienti: +39 02 1234 5678" in italian
    assert f"On {day_long(depot.today, 'en')} at" in english
    assert "we tried to deliver your parcel, but:" in english
    assert "We never ask for payment or card details by text, email or link" in english
    for text in (italian, english):
        assert "oggi" not in text.lower().split()
        assert "today" not in text.lower().split()
        assert "rapido.example/r" in text


def test_after_the_attempt_the_printed_link_opens_the_missed_delivery_and_its_choices(
    depot: Depot, tmp_path: Path
) -> None:
    depot.store(
        depot.event(1, "OUT_FOR_DELIVERY", route_stop=1),
        depot.event(2, "OUT_FOR_DELIVERY", route_stop=2),
    )
    (first, second) = print_pack(depot, tmp_path / "pack.pdf")
    attempted = depot.now - (depot.now - depot.earlier) / 4
    depot.store(depot.event(1, "DELIVERY_ATTEMPTED", at=attempted, reason="RECIPIENT_ABSENT"))
    assert depot.live_urls() == {tracking(1): first, tracking(2): second}
    with depot.client() as client:
        page = client.get(f"/r/{depot.token(first)}").text
        assert "Abbiamo provato a consegnare il pacco" in page
        for option in ("slot", "pickup", "neighbour"):
            assert f"/r/{depot.token(first)}/{option}" in page
        still = client.get(f"/r/{depot.token(second)}").text
        assert "Il pacco è in consegna" in still
        assert "Abbiamo provato a consegnare il pacco" not in still
    # The day's missed-delivery slip prints the same link again.
    slips = tmp_path / "slips.pdf"
    result = depot.cli("slips", "--date", depot.today.isoformat(), "-o", slips)
    assert result.exit_code == 0, result.output
    assert qr_codes(slips, dpi=100) == [[first]]


def test_printing_twice_gives_the_same_links_and_reissuing_ends_them(
    depot: Depot, tmp_path: Path
) -> None:
    ten_out_for_delivery(depot)
    first = print_pack(depot, tmp_path / "first.pdf")
    again = print_pack(depot, tmp_path / "again.pdf")
    assert again == first
    rows = depot.link_rows()
    fresh = print_pack(depot, tmp_path / "reissued.pdf", "--reissue")
    assert len(set(fresh)) == 10
    assert not set(fresh) & set(first)
    assert depot.link_rows() == rows + 10
    assert set(depot.live_count().values()) == {1}
    with depot.client() as client:
        for old, new in zip(first, fresh, strict=True):
            assert client.get(f"/r/{depot.token(old)}").status_code == 404
            assert client.get(f"/r/{depot.token(new)}").status_code == 200


def test_parcels_planned_for_the_day_ride_along_and_other_days_stay_behind(
    depot: Depot, tmp_path: Path
) -> None:
    today, tomorrow = depot.today.isoformat(), depot.day_after(1).isoformat()
    depot.store(
        depot.event(
            1, "IN_TRANSIT", at=depot.yesterday, route_stop=5, next_attempt={"date": today}
        ),
        depot.event(2, "CREATED", at=depot.yesterday, route_stop=2, next_attempt={"date": today}),
        depot.event(3, "OUT_FOR_DELIVERY", route_stop=9),
        depot.event(4, "IN_TRANSIT", route_stop=1, next_attempt={"date": tomorrow}),
        depot.event(5, "IN_TRANSIT", route_stop=3, next_attempt={"date": today}, depot="TO01"),
    )
    with read_transaction(depot.engine) as connection:
        counts = [
            route_pack_count(connection, day=day, depot=code, settings=depot.settings)
            for day, code in (
                (depot.today, "MI01"),
                (depot.day_after(1), "MI01"),
                (depot.today, "TO01"),
                (depot.day_after(2), "MI01"),
            )
        ]
    assert counts == [3, 1, 1, 0]
    # Counting issued nothing; ingest gave CREATED and OUT_FOR_DELIVERY their links.
    links_before = depot.link_rows()
    assert links_before == 2
    pdf = tmp_path / "pack.pdf"
    scanned = print_pack(depot, pdf)
    printed = len(grouped(tracking(1)))  # an S10 number in its groups: 15 characters
    assert [text.split("Spedizione ")[1][:printed] for text in page_texts(pdf)] == [
        grouped(tracking(n)) for n in (2, 1, 3)
    ]
    live = depot.live_urls()
    assert scanned == [live[tracking(n)] for n in (2, 1, 3)]
    # Only the parcel in transit had no link yet: the print issued it one.
    assert depot.link_rows() == links_before + 1
    with depot.client() as client:
        page = client.get(f"/r/{depot.token(live[tracking(1)])}").text
        assert "Il pacco è in viaggio verso di lei" in page


def test_a_next_attempt_after_the_round_is_printed_and_one_for_the_round_is_not(
    depot: Depot, tmp_path: Path
) -> None:
    from notifier.locales import day_long

    later = {"date": depot.day_after(2).isoformat(), "window": "10:00-14:00"}
    depot.store(
        depot.event(1, "OUT_FOR_DELIVERY", route_stop=1, next_attempt=later),
        depot.event(2, "IN_TRANSIT", route_stop=2, next_attempt={"date": depot.today.isoformat()}),
    )
    pdf = tmp_path / "pack.pdf"
    print_pack(depot, pdf)
    later_slip, planned_slip = page_texts(pdf)
    assert f"Riproveremo {day_long(depot.day_after(2), 'it')}, 10:00–14:00." in later_slip
    assert "Il prossimo tentativo non è ancora in programma." in planned_slip
    assert day_long(depot.today, "it") not in planned_slip.split("ma:")[1]


def test_nothing_on_the_round_and_wrong_options_say_so(depot: Depot, tmp_path: Path) -> None:
    pdf = tmp_path / "none.pdf"
    today = depot.today.isoformat()
    empty = depot.cli("slips", "--route-pack", "--date", today, "--depot", "MI01", "-o", pdf)
    assert empty.exit_code == 1
    assert f"no parcels on depot MI01's round on {today}" in empty.output
    assert "nothing to print" in empty.output
    assert not pdf.exists()
    for args, message in (
        (["--route-pack"], "--route-pack needs --depot"),
        (["--reissue", "--depot", "MI01"], "--reissue goes with --route-pack"),
        (["--route-pack", "--final-notice", "--depot", "MI01"], "give one of"),
        (["--route-pack", "--depot", "MI01", "--layout", "a5"], "--layout must be a6 or a4x4"),
    ):
        result = depot.cli("slips", "--date", today, *args, "-o", pdf)
        assert result.exit_code == 2, args
        assert message in result.output, args
    assert not pdf.exists()


def test_the_ops_page_serves_the_pack_behind_the_ops_password(depot: Depot, tmp_path: Path) -> None:
    depot.store(
        depot.event(1, "OUT_FOR_DELIVERY", route_stop=2),
        depot.event(2, "OUT_FOR_DELIVERY", route_stop=1),
    )
    today = depot.today.isoformat()
    url = f"/ops/route-pack.pdf?date={today}&depot=MI01"
    with depot.client() as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers=basic("ops", "wrong")).status_code == 401
        answer = client.get(url, headers=OPS)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["cache-control"] == "no-store"
        assert f'filename="route-pack-{today}-MI01.pdf"' in answer.headers["content-disposition"]
        pdf = tmp_path / "ops.pdf"
        pdf.write_bytes(answer.content)
        live = depot.live_urls()
        assert qr_codes(pdf, dpi=100) == [[live[tracking(2)]], [live[tracking(1)]]]
        # The same pack again: the same links; reissued: new ones.
        again = client.get(url, headers=OPS)
        assert again.status_code == 200
        assert depot.live_urls() == live
        # Another site cannot make a signed-in browser end the round's links.
        forged = client.get(f"{url}&reissue=1", headers={**OPS, "Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403
        assert depot.live_urls() == live
        mine = {**OPS, "Sec-Fetch-Site": "same-origin"}
        reissued = client.get(f"{url}&reissue=1&layout=a4x4", headers=mine)
        assert reissued.status_code == 200
        fresh = depot.live_urls()
        assert not set(fresh.values()) & set(live.values())
        sheet = tmp_path / "sheet.pdf"
        sheet.write_bytes(reissued.content)
        assert page_count(sheet) == 1
        assert qr_codes(sheet, dpi=100, cells=(2, 2)) == [[fresh[tracking(2)], fresh[tracking(1)]]]
        for bad, status, error in (
            (f"/ops/route-pack.pdf?date={today}", 422, "depot"),
            ("/ops/route-pack.pdf?date=22/11/2026&depot=MI01", 422, "YYYY-MM-DD"),
            (f"{url}&layout=a5", 422, "layout"),
            (url.replace("MI01", "ZZ99"), 404, "no parcels on depot ZZ99's round"),
        ):
            answer = client.get(bad, headers=OPS)
            assert answer.status_code == status, bad
            assert error in answer.json()["error"], bad


def test_two_prints_at_once_give_each_parcel_one_link(depot: Depot) -> None:
    today = {"date": depot.today.isoformat()}
    # In transit: no link yet, so both prints would issue one without taking turns.
    depot.store(*(depot.event(n, "IN_TRANSIT", route_stop=n, next_attempt=today) for n in range(5)))
    start = threading.Barrier(2)

    def print_once() -> list[str | None]:
        start.wait()
        with write_transaction(depot.engine) as connection:
            found = route_pack_slips(
                connection,
                day=depot.today,
                depot="MI01",
                reissue=False,
                key=depot.settings.link_key,
                settings=depot.settings,
                now=depot.now,
            )
        return [slip.facts.rebooking_url for slip in found]

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: print_once(), range(2))
    assert first == second
    assert depot.live_count() == {tracking(n): 1 for n in range(5)}
