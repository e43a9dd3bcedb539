"""The keyed hash an address is kept by once its plain form is gone (privacy erasure and
retention): the suppression list holds it, so the address is still never messaged."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from notifier.vocabulary import Channel

# Opt-out rows whose address is a hash start with this; a plain address never does
# (E.164 starts with "+", an email address holds an "@").
HASH_PREFIX = "hmac:"
# The reason of a hash row `notifier erase` wrote: no START or resubscribe lifts it.
ERASED_REASON = "erased on request"
# What an erased person's outbox rows and SMS replies name instead of the address: no
# hash, so the rows cannot even be linked to one another.
ERASED_RECIPIENT = "erased"
# The same for the messages of a shipment the retention job anonymised.
ANONYMISED_RECIPIENT = "anonymised"
# Recipients that are markers, not addresses: nothing can be sent to or opted out of them.
REMOVED_RECIPIENTS = frozenset({ERASED_RECIPIENT, ANONYMISED_RECIPIENT})
# A separate key, so the suppression list's hashes are not the rebooking links' MACs and
# a leaked hash helps forge nothing.
_KEY_LABEL = b"notifier:suppression-list:v1"


@lru_cache(maxsize=8)
def _suppression_key(link_key: bytes) -> bytes:
    return hmac.new(link_key, _KEY_LABEL, hashlib.sha256).digest()


def normalised(channel: str, address: str) -> str:
    """The form an address is compared in, as opt-outs are (outbox/store.py): email in any
    case is one mailbox (migration 0013); phone numbers are E.164 already."""
    return address.lower() if channel == Channel.EMAIL else address


def hashed_address(link_key: bytes, channel: str, address: str) -> str:
    """HMAC-SHA256 of the normalised address: without the secret key no list of phone
    numbers can be tried against it."""
    mac = hmac.new(_suppression_key(link_key), normalised(channel, address).encode(), "sha256")
    return HASH_PREFIX + mac.hexdigest()
