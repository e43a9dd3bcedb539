"""A delivered parcel's rating link: made with its DELIVERED message, never stored in clear.

A parcel has one link, the same in its SMS and its email and in a message rendered again
after a retry. As with unsubscribe tokens (outbox/unsubscribe.py), the token is derived
from a random 128-bit salt with HMAC-SHA256 under the server's secret key, under a label
of its own: the table keeps the salt (to put the same URL in the next message) and the
token's hash (to look it up), so a copy of the database alone opens no rating page. The
token names no row and nothing about the recipient. Each message that carries the link
keeps it alive for `feedback.link_valid_days` more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from notifier.config import Settings
from notifier.db.bulk import one_of
from notifier.db.engine import write_transaction
from notifier.db.tables import FEEDBACK_LINKS
from notifier.locales import language_for
from notifier.outbox.rows import ClaimedRow
from notifier.purposes import Purpose
from notifier.urls import feedback_url
from notifier.vocabulary import Channel

TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
MAX_TOKEN_LENGTH = 64  # longer is not ours: refused before hashing
# The messages that ask: the news of the delivery itself, to the recipient.
ASKING_PURPOSES = frozenset({Purpose.DELIVERED})
ASKING_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL})


def derive_token(key: bytes, salt: str) -> str:
    mac = hmac.new(key, b"feedback:" + bytes.fromhex(salt), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def asks_feedback(message: ClaimedRow, settings: Settings) -> bool:
    """Whether this row's message carries the rating link: feedback is on, and it is the
    recipient's news that the parcel was delivered."""
    return (
        settings.feedback.enabled
        and message.purpose in ASKING_PURPOSES
        and message.channel in ASKING_CHANNELS
    )


def issue_links(
    connection: Connection,
    locales: Mapping[int, str],
    *,
    key: bytes,
    now: datetime,
    valid_for: timedelta,
) -> dict[int, str]:
    """The token of each shipment's link (locales: shipment id -> the message's language),
    made on its first message and valid `valid_for` from now.

    Two statements whatever the number of shipments: one upsert, one read of the salts.
    Two workers upserting the same new shipment keep the first salt, so both messages carry
    the same URL; sorted, their upserts lock rows in one order and cannot deadlock.
    """
    wanted = sorted(locales)
    if not wanted:
        return {}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(FEEDBACK_LINKS)
    upsert = upsert.on_conflict_do_update(
        index_elements=["shipment_id"],
        set_={"expires_at": upsert.excluded.expires_at, "locale": upsert.excluded.locale},
    )
    rows = []
    for shipment_id in wanted:
        salt = secrets.token_bytes(16).hex()
        rows.append(
            {
                "shipment_id": shipment_id,
                "salt": salt,
                "token_hash": hash_token(derive_token(key, salt)),
                "locale": locales[shipment_id],
                "created_at": now,
                "expires_at": now + valid_for,
            }
        )
    connection.execute(upsert, rows)
    query = select(FEEDBACK_LINKS.c.shipment_id, FEEDBACK_LINKS.c.salt).where(
        one_of(connection, FEEDBACK_LINKS.c.shipment_id, wanted)
    )
    return {row.shipment_id: derive_token(key, row.salt) for row in connection.execute(query)}


def feedback_urls(
    engine: Engine,
    settings: Settings,
    claimed: Sequence[ClaimedRow],
    *,
    opted_out: Collection[tuple[str, str]],
    now: datetime,
) -> dict[int, str]:
    """Each asking row's shipment's rating URL, its link made or kept alive in one write for
    the whole tick. A row to an opted-out address is sent nothing: it needs none."""
    default = settings.company.default_locale
    locales = {
        m.shipment_id: str(language_for(m.locale, default))
        for m in claimed
        if asks_feedback(m, settings) and (m.channel, m.recipient) not in opted_out
    }
    if not locales:
        return {}
    valid_for = timedelta(days=settings.feedback.link_valid_days)
    with write_transaction(engine) as connection:
        tokens = issue_links(
            connection, locales, key=settings.link_key, now=now, valid_for=valid_for
        )
    return {shipment: feedback_url(settings, token) for shipment, token in tokens.items()}
