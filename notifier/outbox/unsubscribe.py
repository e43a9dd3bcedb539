"""One-click email unsubscribe (RFC 8058): each address's token, and what a click records.

An address has one token, derived from a random 128-bit salt with HMAC-SHA256 under the
server's secret key, as rebooking links are (rebooking/links.py) but under a label of its
own: the table keeps the salt (to put the same URL in the next email) and the token's
hash (to look it up), so a copy of the database alone unsubscribes nobody. The token names
neither the address nor any row. Every email sent to the address keeps it alive for
TOKEN_LIFETIME more, so the link in any of its emails works as long as we keep writing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from notifier.db.bulk import one_of
from notifier.db.tables import OPT_OUTS, UNSUBSCRIBE_TOKENS
from notifier.outbox import store
from notifier.vocabulary import Channel

# A year: a mail client's unsubscribe button acts on an old email as readily as on today's,
# and an address that has had no email for a year has nothing left to stop.
TOKEN_LIFETIME = timedelta(days=365)
TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
MAX_TOKEN_LENGTH = 64  # longer is not ours: refused before hashing
# The opt-out's reason: only an opt-out this page recorded is one it may take back.
REASON = "one-click unsubscribe (RFC 8058)"

_EMAIL = str(Channel.EMAIL)


def derive_token(key: bytes, salt: str) -> str:
    mac = hmac.new(key, b"unsubscribe:" + bytes.fromhex(salt), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def issue_tokens(
    connection: Connection, addresses: Collection[str], *, key: bytes, now: datetime
) -> dict[str, str]:
    """The token of each email address, made on its first email, valid TOKEN_LIFETIME from now.

    Two statements whatever the number of addresses: one upsert, one read of the salts.
    Two workers upserting the same new address keep the first salt, so both put the same
    URL in their emails; sorted, their upserts lock rows in one order and cannot deadlock.
    """
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(UNSUBSCRIBE_TOKENS)
    upsert = upsert.on_conflict_do_update(
        index_elements=["channel", "address"],
        set_={"expires_at": upsert.excluded.expires_at},
    )
    rows = []
    for address in wanted:
        salt = secrets.token_bytes(16).hex()
        rows.append(
            {
                "channel": _EMAIL,
                "address": address,
                "salt": salt,
                "token_hash": hash_token(derive_token(key, salt)),
                "created_at": now,
                "expires_at": now + TOKEN_LIFETIME,
            }
        )
    connection.execute(upsert, rows)
    query = select(UNSUBSCRIBE_TOKENS.c.address, UNSUBSCRIBE_TOKENS.c.salt).where(
        UNSUBSCRIBE_TOKENS.c.channel == _EMAIL,
        one_of(connection, UNSUBSCRIBE_TOKENS.c.address, wanted),
    )
    return {row.address: derive_token(key, row.salt) for row in connection.execute(query)}


# Built once: a scanner following every link of a mailbox runs it on each request.
_BY_TOKEN = select(UNSUBSCRIBE_TOKENS.c.address).where(
    UNSUBSCRIBE_TOKENS.c.token_hash == bindparam("hash"),
    UNSUBSCRIBE_TOKENS.c.channel == _EMAIL,
    UNSUBSCRIBE_TOKENS.c.expires_at > bindparam("now"),
)


def resolve_token(connection: Connection, token: str, *, now: datetime) -> str | None:
    """The email address a live token stands for; None for unknown and expired alike."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    found = connection.execute(_BY_TOKEN, {"hash": hash_token(token), "now": now}).first()
    return None if found is None else str(found.address)


def opt_out_reason(connection: Connection, address: str) -> str | None:
    """Why no email goes to this address (REASON when it was this page), or None: it does."""
    query = select(OPT_OUTS.c.reason).where(
        OPT_OUTS.c.channel == _EMAIL,
        OPT_OUTS.c.address == store.opt_out_address(_EMAIL, address),
    )
    reason = connection.execute(query).scalar()
    return None if reason is None else str(reason)


def unsubscribe(connection: Connection, address: str, *, now: datetime) -> None:
    """Stop email to this address; a second time changes nothing. SMS is another channel."""
    store.record_opt_out(connection, channel=_EMAIL, address=address, reason=REASON, now=now)


def resubscribe(connection: Connection, address: str) -> bool:
    """Take back this page's own opt-out; one recorded for another reason stays. True if
    one was taken back."""
    result = connection.execute(
        delete(OPT_OUTS).where(
            OPT_OUTS.c.channel == _EMAIL,
            OPT_OUTS.c.address == store.opt_out_address(_EMAIL, address),
            OPT_OUTS.c.reason == REASON,
        )
    )
    return result.rowcount > 0
