"""Rebooking links: issuing, printing again, resolving and revoking tokens and short codes.

A link's token and short code are derived from a random 128-bit salt with HMAC-SHA256
under the server's secret key. The database keeps the salt and the hashes only: enough
to look a token up and, with the key, to print the same link on a slip hours after the
SMS that carried it, but a copy of the database alone opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, bindparam, select

from notifier.config import Settings
from notifier.db.bulk import Bulk, one_of
from notifier.db.tables import LINKS
from notifier.urls import rebooking_link

# Printed on slips and typed by hand: no 0/O, no 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
_MAX_CODE_ROUNDS = 32
_ISSUED_COLUMNS = (
    "shipment_id",
    "status_event_id",
    "salt",
    "code_round",
    "token_hash",
    "code_hash",
    "created_at",
    "expires_at",
    "revoked_at",
)


@dataclass(frozen=True, slots=True)
class Link:
    """A live link as the recipient sees it."""

    id: int
    shipment_id: int
    status_event_id: int
    token: str
    code: str
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """An event that needs a live link: the event and when the parcel's hold ends.

    `attempted` is a missed delivery; otherwise an announcement (the parcel is on its
    way, out for delivery) whose message invites a choice before anyone rings.
    """

    shipment_id: int
    status_event_id: int
    occurred_at: datetime
    held_until: date | None
    attempted: bool = True


def _mac(key: bytes, label: bytes, data: bytes) -> bytes:
    return hmac.new(key, label + b":" + data, hashlib.sha256).digest()


def derive_token(key: bytes, salt: str) -> str:
    digest = _mac(key, b"token", bytes.fromhex(salt))[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def derive_code(key: bytes, salt: str, round_: int) -> str:
    number = int.from_bytes(_mac(key, b"code%d" % round_, bytes.fromhex(salt)), "big")
    letters = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[digit])
    return "".join(letters)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def hash_code(key: bytes, code: str) -> str:
    # Keyed: 31^8 codes are few enough to try them all against a plain hash.
    return _mac(key, b"lookup", code.encode("ascii", "replace")).hex()


def normalise_code(typed: str) -> str | None:
    """The code as printed from what a person typed ('abcd efgh', 'ABCD-EFGH'), or None."""
    code = "".join(ch for ch in typed.upper() if ch not in " -.\t")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def group_code(code: str) -> str:
    """Two groups of four, as printed: 'K7QM 3XRP'."""
    return f"{code[:4]} {code[4:]}"


def expiry(attempt: Attempt, settings: Settings) -> datetime:
    """The end of the hold day in the company's time zone, else valid_days after the attempt."""
    fallback = attempt.occurred_at + timedelta(days=settings.links.valid_days)
    if attempt.held_until is None:
        return fallback
    tz = ZoneInfo(settings.company.timezone)
    end = datetime.combine(attempt.held_until + timedelta(days=1), time(0), tzinfo=tz)
    # A hold date before the attempt itself is a carrier's typo, not a reason to issue a
    # link that is dead on arrival.
    return end if end > attempt.occurred_at else fallback


def issue_links(
    connection: Connection,
    attempts: Sequence[Attempt],
    *,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> None:
    """A new link per attempt, revoking every earlier link of those shipments."""
    if not attempts:
        return
    revoke_links(connection, [a.shipment_id for a in attempts], now=now)
    salts = [secrets.token_bytes(16).hex() for _ in attempts]
    rounds = _free_code_rounds(connection, key, salts)
    bulk = Bulk(connection)  # ingest issues links inside every batch
    stamp = bulk.when(now)
    rows = [
        (
            attempt.shipment_id,
            attempt.status_event_id,
            salt,
            round_,
            hash_token(derive_token(key, salt)),
            hash_code(key, derive_code(key, salt, round_)),
            stamp,
            bulk.when(expiry(attempt, settings)),
            None,
        )
        for attempt, salt, round_ in zip(attempts, salts, rounds, strict=True)
    ]
    bulk.execute_many(bulk.insert_sql(LINKS, _ISSUED_COLUMNS), rows)


def ensure_links(
    connection: Connection,
    needs: Sequence[Attempt],
    *,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> None:
    """A live link for each of these shipments: the one it has, else a new one.

    A link survives the parcel's attempts (design section 8): the link in the "on its
    way" text, on a route pack's slip and on the slip of the first attempt all still
    open the parcel after the second. A missed delivery makes the link its own (what the
    page says happened, what a slip prints) and keeps it alive as long as its hold.
    """
    if not needs:
        return
    ids = {n.shipment_id for n in needs}
    query = select(LINKS.c.id, LINKS.c.shipment_id, LINKS.c.expires_at).where(
        one_of(connection, LINKS.c.shipment_id, ids), live(now)
    )
    held = {row.shipment_id: (row.id, row.expires_at) for row in connection.execute(query)}
    bulk = Bulk(connection)
    fresh = [n for n in needs if n.shipment_id not in held]
    repoint = [
        (n.status_event_id, bulk.when(max(expiry(n, settings), expires)), link_id)
        for n in needs
        if n.attempted and n.shipment_id in held
        for link_id, expires in [held[n.shipment_id]]
    ]
    sql = f"UPDATE {LINKS.name} SET status_event_id = ?, expires_at = ? WHERE id = ?"  # noqa: S608
    bulk.execute_many(sql, repoint)
    issue_links(connection, fresh, key=key, settings=settings, now=now)


def _free_code_rounds(connection: Connection, key: bytes, salts: list[str]) -> list[int]:
    """For each salt, the first round whose short code no stored link (or sibling) uses."""
    rounds = [0] * len(salts)
    bulk = Bulk(connection)
    query = bulk.select_in(LINKS, ["code_hash"], within="code_hash")
    for _ in range(_MAX_CODE_ROUNDS):
        codes = [derive_code(key, s, r) for s, r in zip(salts, rounds, strict=True)]
        hashes = [hash_code(key, code) for code in codes]
        taken = {code_hash for (code_hash,) in bulk.fetch(query, bulk.values(hashes))}
        seen: set[str] = set()
        clashes = False
        for i, code_hash in enumerate(hashes):
            if code_hash in taken or code_hash in seen:
                rounds[i] += 1
                clashes = True
            seen.add(code_hash)
        if not clashes:
            return rounds
    raise RuntimeError("no free short code after 32 rounds: the code space is exhausted")


def revoke_links(connection: Connection, shipment_ids: Iterable[int], *, now: datetime) -> None:
    """End every live link of these shipments (a newer slip, or the parcel is gone)."""
    ids = list(set(shipment_ids))
    if not ids:
        return
    bulk = Bulk(connection)
    sql = bulk.update_in(LINKS, ["revoked_at"], within="shipment_id", where=["revoked_at IS NULL"])
    bulk.execute_many(sql, [(bulk.when(now), bulk.values(ids))])


def live(now: Any) -> ColumnElement[bool]:
    """The one test of a live link: not revoked and not expired at `now` (a value or a
    bind parameter)."""
    return and_(LINKS.c.revoked_at.is_(None), LINKS.c.expires_at > now)


def live_links(
    connection: Connection,
    shipment_ids: Iterable[int],
    *,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> dict[int, Link]:
    """The newest live link of each of these shipments that has one."""
    ids = list(set(shipment_ids))
    if not ids:
        return {}
    query = (
        select(LINKS)
        .where(one_of(connection, LINKS.c.shipment_id, ids), live(now))
        .order_by(LINKS.c.id)
    )
    return {row.shipment_id: link_from_row(row, key, settings) for row in connection.execute(query)}


def link_from_row(row: Any, key: bytes, settings: Settings) -> Link:
    """A stored row (or a joined row with its columns) as the link it stands for."""
    token = derive_token(key, row.salt)
    return Link(
        id=row.id,
        shipment_id=row.shipment_id,
        status_event_id=row.status_event_id,
        token=token,
        code=derive_code(key, row.salt, row.code_round),
        url=rebooking_link(settings, token),
        expires_at=row.expires_at,
    )


# Built once: a page view runs them on every request, and building the expression
# cost as much as running it.
_BY_TOKEN = select(LINKS).where(LINKS.c.token_hash == bindparam("hash"), live(bindparam("now")))
_BY_CODE = select(LINKS).where(LINKS.c.code_hash == bindparam("hash"), live(bindparam("now")))


def resolve_token(
    connection: Connection, token: str, *, key: bytes, settings: Settings, now: datetime
) -> Link | None:
    """The live link this token opens; None for unknown, expired and revoked alike."""
    if not token or len(token) > 64:
        return None
    return _resolve(connection, _BY_TOKEN, hash_token(token), key, settings, now)


def resolve_code(
    connection: Connection, typed: str, *, key: bytes, settings: Settings, now: datetime
) -> Link | None:
    """The live link of a short code as typed; None for unknown, expired and revoked alike."""
    code = normalise_code(typed[:64])
    if code is None:
        return None
    return _resolve(connection, _BY_CODE, hash_code(key, code), key, settings, now)


def _resolve(
    connection: Connection,
    query: Any,
    hashed: str,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> Link | None:
    row = connection.execute(query, {"hash": hashed, "now": now}).first()
    return None if row is None else link_from_row(row, key, settings)
