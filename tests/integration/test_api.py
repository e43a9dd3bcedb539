"""POST /api/v1/events against real databases: results per event, auth, limits, never a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, text

from notifier.db.models import ContactPointRow, OutboxRow, ShipmentRow, StatusEventRow
from notifier.web.api import MAX_EVENTS_PER_REQUEST
from tests.conftest import EventFactory
from tests.integration.conftest import API_KEY, AUTH, JSON, ClientFactory, post_events, rows


def recent(minutes: int = 5) -> str:
    """A timestamp just behind the real clock the API reads, at a +01:00 offset."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="seconds")


def by_index(response: Any) -> dict[int, dict[str, Any]]:
    return {result["index"]: result for result in response.json()["results"]}


def fields(result: dict[str, Any]) -> list[str]:
    return [error["field"] for error in result.get("errors", [])]


def stored_ids(engine: Engine) -> list[str]:
    return sorted(row["event_id"] for row in rows(engine, StatusEventRow))


# Storing: one event, its duplicate, and what lands in the tables.


def test_one_event_is_stored_then_recognised_as_a_duplicate(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    event = make_event(status="OUT_FOR_DELIVERY", occurred_at="2026-11-22T10:49:00+01:00")

    first = post_events(client, event)

    assert first.status_code == 200
    assert first.json() == {
        "stored": 1,
        "duplicates": 0,
        "conflicts": 0,
        "rejected": 0,
        "unknown_statuses": 0,
        "results": [{"index": 0, "event_id": event["event_id"], "result": "stored"}],
    }
    (stored,) = rows(engine, StatusEventRow)
    assert (stored["source"], stored["event_id"]) == ("tms", event["event_id"])
    assert (stored["status"], stored["raw_status"]) == ("OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY")
    assert stored["occurred_at"] == datetime(2026, 11, 22, 9, 49, tzinfo=UTC)
    assert json.loads(stored["payload"]) == event
    (shipment,) = rows(engine, ShipmentRow)
    assert (shipment["carrier"], shipment["tracking_number"]) == ("rapido", "RP123456789IT")
    assert shipment["status"] == "OUT_FOR_DELIVERY"
    assert stored["shipment_id"] == shipment["id"]

    again = post_events(client, event)

    assert again.status_code == 200
    assert again.json()["results"] == [
        {"index": 0, "event_id": event["event_id"], "result": "duplicate"}
    ]
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert len(rows(engine, StatusEventRow)) == 1


def test_an_event_id_sent_again_saying_something_else_is_a_conflict(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    event = make_event(status="OUT_FOR_DELIVERY", occurred_at="2026-11-22T10:49:00+01:00")
    assert post_events(client, event).json()["stored"] == 1
    # The same id, resent with its keys in another order and a fact added: a duplicate.
    resent = dict(reversed(list(event.items()))) | {"route_stop": 12}
    # The same id for another status, or another moment: not the same event.
    changed = [
        event | {"status": "DELIVERED"},
        event | {"occurred_at": "2026-11-22T11:49:00+01:00"},
        event | {"tracking_number": "RP000000001IT"},
    ]

    answer = post_events(client, [resent, *changed])

    body = answer.json()
    assert answer.status_code == 200
    assert [r["result"] for r in body["results"]] == ["duplicate", *["conflict"] * 3]
    assert (body["stored"], body["duplicates"], body["conflicts"]) == (0, 1, 3)
    (reported,) = {e["field"] for r in body["results"][1:] for e in r["errors"]}
    assert reported == "event_id"
    (stored,) = rows(engine, StatusEventRow)
    assert stored["status"] == "OUT_FOR_DELIVERY"  # the first is kept


def test_an_array_is_stored_and_the_same_event_twice_in_it_is_one_event(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    first, second = make_event(status="CREATED"), make_event(status="IN_TRANSIT")
    response = post_events(make_client(engine), [first, second, first])
    assert response.status_code == 200
    assert [(r["event_id"], r["result"]) for r in response.json()["results"]] == [
        (first["event_id"], "stored"),
        (second["event_id"], "stored"),
        (first["event_id"], "duplicate"),
    ]
    assert stored_ids(engine) == sorted([first["event_id"], second["event_id"]])
    assert [s["status"] for s in rows(engine, ShipmentRow)] == ["IN_TRANSIT"]


def test_good_events_are_kept_beside_bad_ones_each_named(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    good = make_event(tracking_number="RP1000000001IT")
    also_good = make_event(tracking_number="RP1000000002IT", status="CREATED")
    body = [
        good,
        make_event(occurred_at="2026-11-22T10:49:00"),
        "not an event",
        make_event(tracking_number=None),
        42,
        None,
        [make_event()],
        also_good,
        make_event(status=["DELIVERED"], recipient="Giovanni"),
    ]
    response = post_events(make_client(engine), body)

    assert response.status_code == 200
    summary = response.json()
    assert (summary["stored"], summary["duplicates"], summary["rejected"]) == (2, 0, 7)
    results = by_index(response)
    assert sorted(results) == list(range(len(body)))
    assert {i for i, r in results.items() if r["result"] == "stored"} == {0, 7}
    assert "errors" not in results[0]
    (offset,) = results[1]["errors"]
    assert offset["field"] == "occurred_at"
    assert "offset" in offset["reason"]
    assert results[1]["event_id"] == body[1]["event_id"]
    for index in (2, 4, 5, 6):
        assert results[index]["result"] == "rejected"
        assert results[index]["errors"] == [{"field": "-", "reason": "expected a JSON object"}]
    assert fields(results[3]) == ["tracking_number"]
    assert results[3]["errors"][0]["reason"] == "is required"
    assert sorted(fields(results[8])) == ["recipient", "status"]
    assert stored_ids(engine) == sorted([good["event_id"], also_good["event_id"]])


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"event_id": None}, "event_id", "is required"),
        ({"event_id": "   "}, "event_id", "is required"),
        ({"event_id": "x" * 129}, "event_id", "at most 128 characters"),
        ({"tracking_number": "R!"}, "tracking_number", "letters, digits or dashes"),
        ({"status": None}, "status", "is required"),
        ({"status": ["DELIVERED"]}, "status", "must be a string, got list"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"occurred_at": "2026-11-22T10:49:00"}, "occurred_at", "UTC offset"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at", "in the future"),
        ({"occurred_at": 1763800000}, "occurred_at", "ISO 8601"),
        ({"route_stop": -1}, "route_stop", "between 0 and 100000"),
        ({"route_stop": 1.5}, "route_stop", "whole number"),
        ({"route_stop": True}, "route_stop", "whole number"),
        ({"held_until": "02/12/2026"}, "held_until", "a date like"),
        ({"next_attempt": {"window": "morning"}}, "next_attempt.window", "10:00-14:00"),
        ({"next_attempt": "tomorrow"}, "next_attempt", "must be an object"),
        ({"recipient": {"locale": "Italiano!"}}, "recipient.locale", "language tag"),
        ({"recipient": {"name": {"first": "G"}}}, "recipient.name", "must be a string"),
        ({"sender": ["x"]}, "sender", "must be an object"),
    ],
    ids=lambda value: None,
)
def test_each_bad_field_is_named_with_the_reason(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    event = make_event()
    for key, value in change.items():
        if value is None:
            del event[key]
        else:
            event[key] = value
    response = post_events(make_client(sqlite_engine), [event])
    assert response.status_code == 422
    (result,) = response.json()["results"]
    assert result["result"] == "rejected"
    assert field in fields(result)
    (error,) = [e for e in result["errors"] if e["field"] == field]
    assert reason in error["reason"]
    assert rows(sqlite_engine, StatusEventRow) == []


def test_every_bad_field_of_one_event_is_reported_at_once(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    event = make_event(
        tracking_number=None, status=None, occurred_at="soon", route_stop="first", held_until="x"
    )
    response = post_events(make_client(sqlite_engine), event)
    assert response.status_code == 422
    (result,) = response.json()["results"]
    assert set(fields(result)) == {
        "tracking_number",
        "status",
        "occurred_at",
        "route_stop",
        "held_until",
    }


def test_everything_rejected_is_422_with_every_reason(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    response = post_events(
        make_client(sqlite_engine), [make_event(status=None), "x", make_event(occurred_at="x")]
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["stored"], body["rejected"]) == (0, 3)
    assert [fields(r) for r in body["results"]] == [["status"], ["-"], ["occurred_at"]]
    assert rows(sqlite_engine, StatusEventRow) == []


def test_an_unknown_status_is_stored_and_counted(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    response = post_events(make_client(sqlite_engine), make_event(status="LOST_IN_SPACE"))
    assert response.status_code == 200
    assert (response.json()["stored"], response.json()["unknown_statuses"]) == (1, 1)
    (stored,) = rows(sqlite_engine, StatusEventRow)
    assert (stored["status"], stored["raw_status"]) == ("UNKNOWN", "LOST_IN_SPACE")


def test_a_lone_surrogate_in_an_extra_field_is_kept_escaped_in_the_payload(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    event = json.dumps(make_event(note="caffè"), ensure_ascii=False)
    body = event.replace("caffè", "\\ud800 caffè").encode()
    response = make_client(engine).post("/api/v1/events", content=body, headers={**AUTH, **JSON})
    assert response.status_code == 200
    (stored,) = rows(engine, StatusEventRow)
    assert json.loads(stored["payload"])["note"] == "\ud800 caffè"


# Tracking rules seen through the API.


def test_an_older_event_arriving_later_does_not_move_the_status_back(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(engine)
    delivered = make_event(status="DELIVERED", occurred_at=recent(minutes=10))
    late = make_event(status="OUT_FOR_DELIVERY", occurred_at=recent(minutes=120))
    assert post_events(client, delivered).json()["stored"] == 1
    assert post_events(client, late).json()["stored"] == 1

    (shipment,) = rows(engine, ShipmentRow)
    assert shipment["status"] == "DELIVERED"
    assert shipment["status_occurred_at"] == datetime.fromisoformat(delivered["occurred_at"])
    assert stored_ids(engine) == sorted([delivered["event_id"], late["event_id"]])
    # Nothing about the earlier state is sent after DELIVERED (design section 4).
    events = {row["event_id"]: row["id"] for row in rows(engine, StatusEventRow)}
    messages = rows(engine, OutboxRow)
    assert {m["status_event_id"] for m in messages} == {events[delivered["event_id"]]}


def test_an_invalid_phone_is_kept_as_invalid_and_the_event_stored(
    engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    event = make_event(
        status="OUT_FOR_DELIVERY",
        occurred_at=recent(),
        recipient={"name": "Giovanni Bianchi", "phone": "12345", "email": "giovanni@example.it"},
    )
    response = post_events(make_client(engine), event)

    assert response.status_code == 200
    assert response.json()["stored"] == 1
    contacts = {c["kind"]: c for c in rows(engine, ContactPointRow)}
    assert (contacts["PHONE"]["value"], contacts["PHONE"]["valid"]) == ("12345", False)
    assert contacts["PHONE"]["invalid_reason"]
    assert (contacts["EMAIL"]["value"], contacts["EMAIL"]["valid"]) == (
        "giovanni@example.it",
        True,
    )
    # The SMS is recorded as suppressed with the reason; the email still goes.
    messages = {m["channel"]: m for m in rows(engine, OutboxRow)}
    assert messages["sms"]["state"] == "suppressed"
    assert contacts["PHONE"]["invalid_reason"] in messages["sms"]["last_error"]
    assert messages["email"]["state"] == "pending"


# Personal data stays out of the logs, whatever happens to the request.

PERSON = {
    "name": "Zebedeo Quintavalle",
    "phone": "+39 333 765 4321",
    "email": "zebedeo.quintavalle@example.it",
}
# The same data as it may appear once normalised.
PERSONAL_STRINGS = (*PERSON.values(), "Quintavalle", "3337654321", "+393337654321", "zebedeo")


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def test_personal_data_never_reaches_the_logs(
    engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(engine)
    good = make_event(status="OUT_FOR_DELIVERY", occurred_at=recent(), recipient=PERSON)
    bad = make_event(occurred_at="not a time", recipient=PERSON)
    bad_phone = make_event(recipient={**PERSON, "phone": "+39 333 765 4321 int. 7"})
    with caplog.at_level(logging.DEBUG):
        response = post_events(client, [good, bad, bad_phone, "Zebedeo Quintavalle"])
        post_events(client, good)  # a duplicate
        post_events(client, {"recipient": PERSON})  # everything rejected
    assert response.status_code == 200
    assert response.json()["stored"] == 2
    assert caplog.records, "nothing was logged at DEBUG: the check would prove nothing"
    logged = logged_text(caplog)
    assert [value for value in PERSONAL_STRINGS if value in logged] == []


def test_an_unexpected_failure_is_a_bare_500_logged_without_the_input(
    engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(engine)
    # A table gone missing under the running service: the INSERT's error quotes its
    # parameters, which hold the recipient's phone, and the payload with name and email.
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE contact_points"))
    with caplog.at_level(logging.DEBUG):
        response = post_events(client, make_event(recipient=PERSON))

    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    logged = logged_text(caplog)
    assert "unhandled error" in logged
    assert "ingest/batches.py" in logged  # where it failed is still there for whoever debugs it
    assert [value for value in PERSONAL_STRINGS if value in logged] == []
    # Not acknowledged, so not kept: the whole batch was rolled back.
    assert rows(engine, StatusEventRow) == []
    assert rows(engine, ShipmentRow) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": "evt\u0000001"}, "event_id"),
        ({"status": "DELIVERED\u0000"}, "status"),
        ({"recipient": {"name": "Giovanni\u0000Bianchi"}}, "recipient.name"),
        ({"recipient": {"phone": "+39 333\u0000123 4567"}}, "recipient.phone"),
    ],
    ids=["event_id", "status", "recipient.name", "recipient.phone"],
)
def test_a_nul_character_is_refused_naming_the_field(
    engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    """PostgreSQL text cannot hold U+0000; SQLite could, but the answer is the same on both."""
    response = post_events(make_client(engine), make_event(**change))
    assert response.status_code == 422, response.text
    (result,) = response.json()["results"]
    assert fields(result) == [field]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at"),
        ({"occurred_at": "9999-12-31T23:30:00-01:00"}, "occurred_at"),
        ({"route_stop": "\u00b2"}, "route_stop"),
    ],
    ids=["before year 1 in UTC", "after year 9999 in UTC", "superscript digit"],
)
def test_a_value_python_cannot_convert_is_refused_naming_the_field(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    """astimezone() overflows, and int("\u00b2") raises though "\u00b2".isdigit()."""
    response = post_events(make_client(sqlite_engine), make_event(**change))
    assert response.status_code == 422, response.text
    (result,) = response.json()["results"]
    assert fields(result) == [field]


# Authentication.


def test_without_a_configured_key_the_api_is_off_and_stores_nothing(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine, env={})
    response = post_events(client, make_event())
    assert response.status_code == 503
    assert "NOTIFIER_API_KEY" in response.json()["error"]
    assert rows(sqlite_engine, StatusEventRow) == []


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {API_KEY}",
        f"Token {API_KEY}",
        f"{API_KEY}",
        "Bearer wrong-key",
        f"Bearer {API_KEY}x",
        f"Bearer {API_KEY[:-1]}",
    ],
    ids=[
        "missing",
        "empty",
        "scheme only",
        "scheme and space",
        "basic scheme",
        "token scheme",
        "no scheme",
        "wrong key",
        "key with suffix",
        "key prefix",
    ],
)
def test_a_missing_or_wrong_key_is_401_and_stores_nothing(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    authorization: str | None,
) -> None:
    client = make_client(sqlite_engine)
    headers = {**JSON} if authorization is None else {**JSON, "Authorization": authorization}
    response = client.post("/api/v1/events", content=json.dumps(make_event()), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in response.json()["error"]
    assert rows(sqlite_engine, StatusEventRow) == []


def test_the_key_is_checked_before_the_body_is_read(
    sqlite_engine: Engine, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_engine, api={"max_body_bytes": 2048})
    headers = {"Authorization": "Bearer wrong", "Content-Type": "text/plain"}
    assert client.post("/api/v1/events", content=b"x" * 4096, headers=headers).status_code == 401


def test_every_configured_key_works(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine, env={"NOTIFIER_API_KEY": " first-key , second-key ,"})
    one, two = make_event(), make_event()
    assert post_events(client, one, Authorization="Bearer first-key").status_code == 200
    assert post_events(client, two, Authorization="bearer second-key").status_code == 200
    assert post_events(client, make_event(), Authorization="Bearer ").status_code == 401
    assert stored_ids(sqlite_engine) == sorted([one["event_id"], two["event_id"]])


# Size limits.


def padded(make_event: EventFactory, size: int) -> bytes:
    """One valid event serialised to exactly `size` bytes."""
    event = make_event(note="")
    base = len(json.dumps(event).encode())
    event["note"] = "x" * (size - base)
    body = json.dumps(event).encode()
    assert len(body) == size
    return body


def test_a_declared_length_over_the_limit_is_413_and_at_the_limit_is_read(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine, api={"max_body_bytes": 2048})
    over = client.post("/api/v1/events", content=padded(make_event, 2049), headers={**AUTH, **JSON})
    assert over.status_code == 413
    assert "2048" in over.json()["error"]
    assert rows(sqlite_engine, StatusEventRow) == []

    at_limit = client.post(
        "/api/v1/events", content=padded(make_event, 2048), headers={**AUTH, **JSON}
    )
    assert at_limit.status_code == 200
    assert at_limit.json()["stored"] == 1


def chunks(body: bytes, size: int = 500) -> Iterator[bytes]:
    """A body sent chunked: an iterator gives httpx no length to declare."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine, api={"max_body_bytes": 2048})
    sent: list[dict[str, str]] = []

    def capture(request: Any) -> None:
        sent.append(dict(request.headers))

    client.event_hooks["request"].append(capture)
    over = client.post(
        "/api/v1/events", content=chunks(padded(make_event, 5000)), headers={**AUTH, **JSON}
    )
    assert sent[-1].get("transfer-encoding") == "chunked"
    assert "content-length" not in sent[-1]
    assert over.status_code == 413
    assert rows(sqlite_engine, StatusEventRow) == []

    under = client.post(
        "/api/v1/events", content=chunks(padded(make_event, 1500)), headers={**AUTH, **JSON}
    )
    assert under.status_code == 200
    assert under.json()["stored"] == 1


def test_more_than_the_maximum_number_of_events_is_413(
    sqlite_engine: Engine, make_client: ClientFactory, make_event: EventFactory
) -> None:
    client = make_client(sqlite_engine)
    events = [make_event(tracking_number=f"RP{n:09d}IT") for n in range(MAX_EVENTS_PER_REQUEST + 1)]
    too_many = post_events(client, events)
    assert too_many.status_code == 413
    assert str(MAX_EVENTS_PER_REQUEST) in too_many.json()["error"]
    assert rows(sqlite_engine, StatusEventRow) == []

    exactly = post_events(client, events[:MAX_EVENTS_PER_REQUEST])
    assert exactly.status_code == 200
    assert exactly.json()["stored"] == MAX_EVENTS_PER_REQUEST
    assert len(rows(sqlite_engine, StatusEventRow)) == MAX_EVENTS_PER_REQUEST


# Malformed requests: a clear 4xx, never a 500.


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/jsonl", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/json", 200),
        ("Application/JSON; charset=utf-8", 200),
    ],
    ids=lambda value: None,
)
def test_only_json_is_accepted(
    sqlite_engine: Engine,
    make_client: ClientFactory,
    make_event: EventFactory,
    content_type: str | None,
    status: int,
) -> None:
    client = make_client(sqlite_engine)
    headers = {**AUTH} if content_type is None else {**AUTH, "Content-Type": content_type}
    response = client.post("/api/v1/events", content=json.dumps(make_event()), headers=headers)
    assert response.status_code == status
    if status == 415:
        assert "application/json" in response.json()["error"]
        assert rows(sqlite_engine, StatusEventRow) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b'{"event_id": "e1",}',
        b"[" * 100_000,
        b"{" * 100_000,
        b'{"a":' * 50_000,
        b"\xff\xfe\x00{",
        b'{"event_id": "caff\xe8"}',
        b'{"event_id": 1} {"event_id": 2}',
        b'{"event_id": 1}\n{"event_id": 2}\n',
        b"[1, 2",
        b"1" * 5000,
        b"NaN",
        b"-Infinity",
        b'{"event_id": Infinity}',
        b'{"event_id": "e1", "weight": NaN}',
    ],
    ids=[
        "empty",
        "broken",
        "trailing comma",
        "deep arrays",
        "deep objects braces",
        "deep objects",
        "utf-16 junk",
        "latin-1 bytes",
        "two documents",
        "json lines",
        "unterminated",
        "int over the digit limit",
        # Python's json reads these; JSON (RFC 8259) has no such values: refused.
        "NaN",
        "-Infinity",
        "Infinity as event_id",
        "NaN in an extra field",
    ],
)
def test_a_body_that_is_not_json_is_400(
    sqlite_engine: Engine, make_client: ClientFactory, body: bytes
) -> None:
    response = make_client(sqlite_engine).post(
        "/api/v1/events", content=body, headers={**AUTH, **JSON}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("the body is not valid JSON")


def test_an_empty_array_is_422(sqlite_engine: Engine, make_client: ClientFactory) -> None:
    response = post_events(make_client(sqlite_engine), [])
    assert response.status_code == 422
    assert response.json() == {"error": "the array holds no events"}


def valid(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "fuzz",
        "tracking_number": "RP1X",
        "status": "CREATED",
        "occurred_at": "2026-11-22T10:00:00+01:00",
    }
    event.update(changes)
    return event


def encoded(**changes: Any) -> bytes:
    return json.dumps(valid(**changes)).encode()


# (label, body, expected status): weird documents. Anything that parses as JSON gets
# per-event results (200 stored, 422 all rejected); only a body that is not JSON is a 400.
ODD_DOCUMENTS: list[tuple[str, bytes, int]] = [
    ("null", b"null", 422),
    ("true", b"true", 422),
    ("zero", b"0", 422),
    ("tiny float", b"-1.5e-300", 422),
    ("int of 4000 digits", b"9" * 4000, 422),
    ("float overflow", b"1e999", 422),
    ("string", b'"RP1X"', 422),
    ("unicode string", '"ça va 👋"'.encode(), 422),
    ("nested empty arrays", b"[[[]]]", 422),
    ("array of nulls", b"[null, null]", 422),
    ("array of arrays", b"[[1], [2]]", 422),
    ("empty object", b"{}", 422),
    ("deep but legal arrays", b"[" * 500 + b"]" * 500, 422),
    ("deep extra field", encoded()[:-1] + b', "x": ' + b"[" * 500 + b"]" * 500 + b"}", 200),
    ("lone surrogate id", encoded(event_id="\ud800"), 422),
    ("lone surrogate name", encoded(recipient={"name": "\udfff"}), 422),
    ("emoji everywhere", encoded(event_id="📦", depot="🏭", recipient={"name": "😀"}), 200),
    ("RTL and combining", encoded(event_id="שלום\u0301", sender={"name": "ﷺ"}), 200),
    ("max code point", encoded(event_id="\U0010ffff"), 200),
    ("terminal escapes", encoded(event_id="a\tb\x1b[31m"), 200),
    ("100 kB extra string", encoded(note="x" * 100_000), 200),
    ("junk phone kept invalid", encoded(recipient={"phone": "call me maybe"}), 200),
    ("junk email kept invalid", encoded(recipient={"email": "@@" + "x" * 300}), 200),
    (
        "duplicate keys, last wins",
        b'{"event_id": [], "event_id": "dup", "tracking_number":'
        b' "RP1X", "status": "CREATED", "occurred_at": "2026-11-22T10:00:00Z"}',
        200,
    ),
    ("numeric ids", encoded(event_id=123, tracking_number=123456), 200),
    ("far past", encoded(occurred_at="1900-01-01T00:00:00+00:00"), 200),
    ("route_stop as text", encoded(route_stop="17"), 200),
    ("route_stop 10**40", encoded(route_stop=10**40), 422),
    ("route_stop 2**63", encoded(route_stop=2**63), 422),
    ("1000 nulls", b"[" + b",".join([b"null"] * 1000) + b"]", 422),
]

FIELDS = (
    "event_id",
    "tracking_number",
    "status",
    "occurred_at",
    "source",
    "carrier",
    "reason",
    "depot",
    "route_stop",
    "held_until",
    "pickup_point",
    "estimated_delivery",
    "next_attempt",
    "next_attempt.date",
    "next_attempt.window",
    "recipient",
    "recipient.name",
    "recipient.phone",
    "recipient.email",
    "recipient.locale",
    "sender",
    "sender.name",
)
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64,
    10**300,
    1.5,
    -0.0,
    1e308,
    "",
    " ",
    "\u200b",
    "\ufeff",
    "null",
    "💥" * 40,
    "x" * 5000,
    "2026-11-22T10:00:00+01:00",
    [],
    ["DELIVERED"],
    [1, [2, [3]]],
    {},
    {"a": {"b": None}},
]


def with_value(name: str, value: Any, event_id: str) -> dict[str, Any]:
    event = valid(event_id=event_id)
    group, _, leaf = name.rpartition(".")
    if group:
        event[group] = {leaf: value}
    else:
        event[name] = value
    return event


def test_weird_json_documents_never_get_a_500(engine: Engine, make_client: ClientFactory) -> None:
    """One client per database walks the whole table; every mismatch is listed."""
    client = make_client(engine)
    unexpected = []
    for label, body, expected in ODD_DOCUMENTS:
        response = client.post("/api/v1/events", content=body, headers={**AUTH, **JSON})
        answer = response.json()
        explained = "error" in answer or all(
            r["result"] != "rejected" or r["errors"] for r in answer["results"]
        )
        if response.status_code != expected or not explained:
            unexpected.append(f"{label}: {response.status_code} {response.text[:300]}")
    assert unexpected == []


def test_an_odd_value_in_any_field_is_stored_or_refused_naming_that_field(
    engine: Engine, make_client: ClientFactory
) -> None:
    """Every field gets every JSON type: the answer is never a 500 nor blames another field."""
    client = make_client(engine)
    unexpected = []
    for name in FIELDS:
        for n, value in enumerate(ODD_VALUES):
            label = f"{name} = {value!r:.30}"
            event = with_value(name, value, event_id=f"odd-{name}-{n}")
            response = post_events(client, event)
            if response.status_code == 200:
                if response.json()["stored"] != 1:
                    unexpected.append(f"{label}: 200 but {response.text[:300]}")
                continue
            if response.status_code != 422:
                unexpected.append(f"{label}: {response.status_code} {response.text[:300]}")
                continue
            (result,) = response.json()["results"]
            blamed = set(fields(result))
            allowed = {name, name.rpartition(".")[0]} - {""}
            if not blamed or not blamed <= allowed:
                unexpected.append(f"{label}: blames {sorted(blamed)}")
    assert unexpected == []
