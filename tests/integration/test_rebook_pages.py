"""The rebooking pages over HTTP: options, forms, CSRF, bad links, rate limits, headers."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import REBOOKINGS, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from notifier.rebooking.choices import offered_days
from tests.conftest import make_settings
from tests.integration.conftest import ClientFactory

ROME = ZoneInfo("Europe/Rome")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
SUBMISSION = re.compile(r'name="submission" value="([^"]+)"')
SLOT_VALUE = re.compile(r'name="slot" id="[^"]+" value="([^"]+)"')


SITE_NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Site:
    """A stored missed delivery and a client on the real app."""

    def __init__(self, engine: Engine, make_client: ClientFactory, locale: str = "it") -> None:
        self.engine = engine
        # The pages and the data on one fixed clock: a Tuesday morning in Rome, whatever
        # the hour the suite runs at (at 00:10 an attempt 20 minutes ago was yesterday).
        self.now = SITE_NOW
        self.client: TestClient = make_client(engine, env={}, clock=lambda: self.now)
        self.settings = make_settings(engine.url.render_as_string(hide_password=False))
        self.token = self.store(locale)

    def store(self, locale: str, tracking: str = "RP123456789IT") -> str:
        event = {
            "event_id": f"e-{tracking}",
            "tracking_number": tracking,
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": (self.now - timedelta(minutes=20)).isoformat(),
            "depot": "MI01",
            "recipient": {
                "name": "Giovanni Bianchi",
                "phone": "+39 333 123 4567",
                "locale": locale,
                "postcode": "20121",
            },
            "sender": {"name": "Libreria Sant'Orsola"},
        }
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == tracking)
            ids = [r.id for r in connection.execute(query)]
            key = self.settings.link_key
            live = links.live_links(connection, ids, key=key, settings=self.settings, now=self.now)
        (link,) = live.values()
        return link.token

    def form(self, path: str) -> tuple[str, dict[str, str]]:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        fields = {"csrf": CSRF.search(page.text).group(1)}  # type: ignore[union-attr]
        found = SUBMISSION.search(page.text)
        if found:
            fields["submission"] = found.group(1)
        return page.text, fields

    def bookings(self) -> int:
        with read_transaction(self.engine) as connection:
            return int(
                connection.execute(select(func.count()).select_from(REBOOKINGS)).scalar_one()
            )


@pytest.fixture
def site(engine: Engine, make_client: ClientFactory) -> Site:
    return Site(engine, make_client)


def test_the_page_shows_the_parcel_without_personal_data_and_every_option(site: Site) -> None:
    page = site.client.get(f"/r/{site.token}")
    assert page.status_code == 200
    text = page.text
    assert 'lang="it"' in text
    assert "RP12 3456 789IT" in text
    assert "Libreria Sant&#39;Orsola" in text or "Libreria Sant'Orsola" in text
    assert "G. B." in text
    assert "201…" in text
    assert "20121" not in text
    assert "Giovanni" not in text  # masked
    assert "333" not in text  # no phone number
    for option in ("slot", "pickup", "neighbour", "safe_place", "callback", "dispute"):
        assert f"/r/{site.token}/{option}" in text
    assert "+39 02 1234 5678" in text
    english = site.client.get(f"/r/{site.token}?lang=en")
    assert 'lang="en"' in english.text
    assert "Choose how to get your parcel" in english.text


def test_booking_a_slot_confirms_it_and_the_same_form_twice_books_once(site: Site) -> None:
    text, fields = site.form(f"/r/{site.token}/slot")
    value = SLOT_VALUE.search(text).group(1)  # type: ignore[union-attr]
    fields["slot"] = value
    first = site.client.post(f"/r/{site.token}/slot", data=fields, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith(f"/r/{site.token}/done")
    again = site.client.post(f"/r/{site.token}/slot", data=fields, follow_redirects=False)
    assert again.status_code == 303
    assert site.bookings() == 1
    done = site.client.get(first.headers["location"])
    assert "abbiamo registrato la sua scelta" in done.text
    assert value.split("|")[1].replace("-", "–") in done.text
    calendar = site.client.get(f"/r/{site.token}/booking.ics")
    assert calendar.status_code == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in calendar.text
    assert "RP12 3456 789IT" in calendar.text.replace("\r\n ", "")


def test_a_post_without_the_pages_csrf_token_is_refused(site: Site) -> None:
    _, fields = site.form(f"/r/{site.token}/neighbour")
    forged = {**fields, "csrf": "0" * 64, "neighbour_name": "Rossi"}
    answer = site.client.post(f"/r/{site.token}/neighbour", data=forged, follow_redirects=False)
    assert answer.status_code == 403
    site.client.cookies.clear()
    fields["neighbour_name"] = "Rossi"
    no_cookie = site.client.post(f"/r/{site.token}/neighbour", data=fields, follow_redirects=False)
    assert no_cookie.status_code == 403
    assert site.bookings() == 0


def test_missing_fields_are_named_and_tied_to_their_inputs(site: Site) -> None:
    _, fields = site.form(f"/r/{site.token}/safe_place")
    answer = site.client.post(f"/r/{site.token}/safe_place", data=fields)
    assert answer.status_code == 422
    assert 'aria-describedby="instructions-error"' in answer.text
    assert 'id="instructions-error"' in answer.text
    assert 'href="#accept"' in answer.text
    too_long = {**fields, "instructions": "x" * 301, "accept": "yes"}
    assert site.client.post(f"/r/{site.token}/safe_place", data=too_long).status_code == 422
    assert site.bookings() == 0


def test_tampered_expired_and_unknown_links_look_the_same(site: Site, engine: Engine) -> None:
    tampered = site.token[:-2] + ("AA" if not site.token.endswith("AA") else "BB")
    answers = [site.client.get(f"/r/{t}") for t in (tampered, "x" * 22, "a")]
    # A revoked link (a slip printed again with --reissue) looks the same too.
    with write_transaction(engine) as connection:
        shipments = [row.id for row in connection.execute(select(SHIPMENTS.c.id))]
        links.revoke_links(connection, shipments, now=site.now)
    answers.append(site.client.get(f"/r/{site.token}"))
    assert {a.status_code for a in answers} == {404}
    bodies = {a.text for a in answers}
    assert len(bodies) == 1
    assert "+39 02 1234 5678" in bodies.pop()


def test_the_short_code_form_opens_the_parcel(site: Site) -> None:
    with read_transaction(site.engine) as connection:
        key = site.settings.link_key
        link = links.resolve_token(
            connection, site.token, key=key, settings=site.settings, now=site.now
        )
    assert link is not None
    _, fields = site.form("/r")
    typed = f"{link.code[:4].lower()} {link.code[4:]}"
    answer = site.client.post("/r", data={**fields, "code": typed}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/r/{site.token}")
    wrong = site.client.post("/r", data={**fields, "code": "ZZZZ ZZZZ"})
    assert wrong.status_code == 422
    assert 'aria-invalid="true"' in wrong.text


def test_pages_carry_strict_security_headers_and_no_external_assets(site: Site) -> None:
    page = site.client.get(f"/r/{site.token}/slot")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "unsafe-inline" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert not re.search(r'(src|href)="(https?:)?//(?!rapido\.example)', page.text)
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_too_many_requests_get_a_clear_429_page(site: Site) -> None:
    limiter = site.client.app.state.rebook_limits["token"]  # type: ignore[attr-defined]
    for _ in range(limiter.limit):
        assert limiter.retry_after(site.token) == 0
    answer = site.client.get(f"/r/{site.token}")
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 0
    assert "Troppe richieste" in answer.text
    assert "minuti." in answer.text


def test_one_minute_is_said_in_the_singular(site: Site) -> None:
    limiter = site.client.app.state.rebook_limits["client"]  # type: ignore[attr-defined]
    for _ in range(limiter.limit):
        limiter.retry_after("testclient")
    answer = site.client.get(f"/r/{site.token}")
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) <= 60
    assert "tra 1 minuto." in answer.text


def test_a_full_slot_is_shown_full_and_refused(engine: Engine, make_client: ClientFactory) -> None:
    site = Site(engine, make_client)
    day = offered_days(site.settings, site.now)[0]
    site.client.app.state.settings = make_settings(  # type: ignore[attr-defined]
        site.settings.database.url,
        env={},
        rebooking={"slots": [{"window": "09:00-13:00", "capacity": 0}]},
    )
    text, fields = site.form(f"/r/{site.token}/slot")
    assert "disabled" in text
    fields["slot"] = f"{day.isoformat()}|09:00-13:00"
    answer = site.client.post(f"/r/{site.token}/slot", data=fields)
    assert answer.status_code == 409
    assert "Questa fascia è piena" in answer.text
    assert site.bookings() == 0


def test_fifty_people_booking_one_slot_of_ten_over_http(
    engine: Engine, make_client: ClientFactory
) -> None:
    site = Site(engine, make_client)
    site.client = make_client(
        engine,
        env={},
        clock=lambda: site.now,
        rebooking={"slots": [{"window": "09:00-13:00", "capacity": 10}]},
    )
    limits = site.client.app.state.rebook_limits  # type: ignore[attr-defined]
    limits["client"].limit = 10_000  # fifty people, one test address
    tokens = [site.token] + [site.store("it", f"RP{n:09d}IT") for n in range(1, 50)]
    day = offered_days(site.settings, site.now)[0]
    forms = []
    for token in tokens:
        _, fields = site.form(f"/r/{token}/slot")
        forms.append((token, {**fields, "slot": f"{day.isoformat()}|09:00-13:00"}))
    start = threading.Barrier(len(forms))

    def post(item: tuple[str, dict[str, str]]) -> int:
        token, fields = item
        start.wait()
        answer = site.client.post(f"/r/{token}/slot", data=fields, follow_redirects=False)
        if answer.status_code == 409:
            assert "Questa fascia è piena" in answer.text
        return answer.status_code

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        statuses = Counter(pool.map(post, forms))
    assert statuses == {303: 10, 409: 40}
    assert site.bookings() == 10


def test_a_locked_choice_is_shown_as_locked_and_cannot_be_changed(site: Site) -> None:
    # A slot booked for today: its cut-off was yesterday evening.
    with read_transaction(site.engine) as connection:
        key = site.settings.link_key
        link = links.resolve_token(
            connection, site.token, key=key, settings=site.settings, now=site.now
        )
    assert link is not None
    with write_transaction(site.engine) as connection:
        connection.execute(
            REBOOKINGS.insert(),
            {
                "shipment_id": link.shipment_id,
                "link_id": link.id,
                "submission": "earlier",
                "kind": "slot",
                "day": site.now.astimezone(ROME).date(),
                "window": "09:00-13:00",
                "locale": "it",
                "created_at": site.now - timedelta(days=1),
            },
        )
    page = site.client.get(f"/r/{site.token}")
    assert page.status_code == 200
    assert "La scelta è bloccata" in page.text
    assert f"/r/{site.token}/neighbour" not in page.text  # no options to change it
    _, fields = site.form(f"/r/{site.token}/neighbour")
    answer = site.client.post(
        f"/r/{site.token}/neighbour", data={**fields, "neighbour_name": "Rossi"}
    )
    assert answer.status_code == 409
    assert "non si può più cambiare" in answer.text
    assert site.bookings() == 1


def test_a_first_choice_after_the_cut_off_is_refused_with_the_time_it_closed(site: Site) -> None:
    # The next attempt is today: choices for it closed yesterday at 18:00.
    today = site.now.astimezone(ROME).date()
    with write_transaction(site.engine) as connection:
        connection.execute(SHIPMENTS.update().values(next_attempt_date=today))
    closed = format_date(today - timedelta(days=1), "EEEE d MMMM", locale="it")
    page = site.client.get(f"/r/{site.token}")
    assert page.status_code == 200
    assert f"Le scelte si sono chiuse {closed} alle 18:00" in page.text
    assert f"/r/{site.token}/neighbour" not in page.text  # nothing offered to choose
    _, fields = site.form(f"/r/{site.token}/neighbour")
    answer = site.client.post(
        f"/r/{site.token}/neighbour", data={**fields, "neighbour_name": "Rossi"}
    )
    assert answer.status_code == 409
    assert f"{closed} alle 18:00" in answer.text
    assert site.bookings() == 0
    english = site.client.get(f"/r/{site.token}?lang=en")
    closed_en = format_date(today - timedelta(days=1), "EEEE d MMMM", locale="en")
    assert f"Choices closed on {closed_en} at 18:00" in english.text


def later_event(site: Site, status: str, minutes: int, **fields: object) -> None:
    """A newer status for the site's parcel, `minutes` after the attempt."""
    event = {
        "event_id": f"e-{status}-{minutes}",
        "tracking_number": "RP123456789IT",
        "status": status,
        "occurred_at": (site.now - timedelta(minutes=20 - minutes)).isoformat(),
        **fields,
    }
    list(
        ingest(
            site.engine, [Incoming(0, event, "{}")], settings=site.settings, now=lambda: site.now
        )
    )


def local_time(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M")


def test_a_delivered_parcels_link_says_delivered_in_the_recipients_language(
    engine: Engine, make_client: ClientFactory
) -> None:
    site = Site(engine, make_client, locale="en")
    _, fields = site.form(f"/r/{site.token}/neighbour")
    later_event(site, "DELIVERED", 10)
    page = site.client.get(f"/r/{site.token}")
    assert page.status_code == 200
    delivered_at = local_time(site.now - timedelta(minutes=10))
    assert f"It was delivered today at {delivered_at}." in page.text
    assert "There is nothing more to choose for this parcel." in page.text
    assert f'href="/r/{site.token}/slot' not in page.text
    assert "We tried to deliver" not in page.text
    # A form opened before the delivery and sent after it is refused, saying why.
    answer = site.client.post(
        f"/r/{site.token}/neighbour", data={**fields, "neighbour_name": "Rossi"}
    )
    assert answer.status_code == 409
    assert "this parcel has been delivered, sent back or cancelled" in answer.text
    assert site.bookings() == 0


def test_the_page_tells_where_the_parcel_is_now_and_when_the_attempt_was(site: Site) -> None:
    attempt_at = local_time(site.now - timedelta(minutes=20))
    later_event(site, "AVAILABLE_FOR_PICKUP", 15, pickup_point="PP-MI-12")
    page = site.client.get(f"/r/{site.token}").text
    assert "Il pacco è pronto per il ritiro." in page
    # The attempt's own time, not the pickup event's.
    assert f"Abbiamo provato a consegnare il pacco oggi alle {attempt_at}" in page
    assert local_time(site.now - timedelta(minutes=5)) not in page
    later_event(site, "OUT_FOR_DELIVERY", 18)
    page = site.client.get(f"/r/{site.token}").text
    assert "Il pacco è in consegna oggi." in page
    assert "Il furgone è già partito" in page


def test_after_a_choice_the_page_shows_the_choice_not_the_old_next_attempt(
    engine: Engine, make_client: ClientFactory
) -> None:
    site = Site(engine, make_client)
    later_event(
        site,
        "DELIVERY_ATTEMPTED",
        1,
        reason="RECIPIENT_ABSENT",
        next_attempt={"date": (site.now + timedelta(days=3)).date().isoformat()},
    )
    before = site.client.get(f"/r/{site.token}").text
    assert "Nuovo tentativo di consegna" in before
    assert "Può scegliere, o cambiare la sua scelta, fino alle 18:00 di" in before
    _, fields = site.form(f"/r/{site.token}/neighbour")
    answer = site.client.post(
        f"/r/{site.token}/neighbour", data={**fields, "neighbour_name": "Rossi"}
    )
    assert answer.status_code == 200, answer.text  # the "done" page, after its redirect
    assert site.bookings() == 1
    after = site.client.get(f"/r/{site.token}").text
    assert "Rossi" in after
    assert "Nuovo tentativo di consegna" not in after


def test_a_callback_is_offered_only_with_a_number_to_call(
    engine: Engine, make_client: ClientFactory
) -> None:
    site = Site(engine, make_client)
    # A second parcel whose recipient gave only an email address.
    event = {
        "event_id": "e-mail-only",
        "tracking_number": "RP987654321IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": (site.now - timedelta(minutes=20)).isoformat(),
        "depot": "MI01",
        "recipient": {"name": "Anna Verdi", "email": "anna@example.it", "locale": "it"},
    }
    list(ingest(engine, [Incoming(0, event, "{}")], settings=site.settings, now=lambda: site.now))
    with read_transaction(engine) as connection:
        query = select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == "RP987654321IT")
        shipment_id = connection.execute(query).scalar_one()
        key = site.settings.link_key
        token = links.live_links(
            connection, [shipment_id], key=key, settings=site.settings, now=site.now
        )[shipment_id].token
    page = site.client.get(f"/r/{token}").text
    assert f"/r/{token}/neighbour" in page
    assert f"/r/{token}/callback" not in page
    assert site.client.get(f"/r/{token}/callback").status_code == 404
    assert f"/r/{site.token}/callback" in site.client.get(f"/r/{site.token}").text
