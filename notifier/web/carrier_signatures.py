"""Who is calling a webhook: each aggregator's own proof, checked as it documents it.

- AfterShip signs the raw body: `aftership-hmac-sha256` is base64(HMAC-SHA256(secret, body))
  (https://www.aftership.com/docs/tracking/webhook/webhook-signature).
- EasyPost signs the raw body: `X-Hmac-Signature` is `hmac-sha256-hex=` and the hex
  HMAC-SHA256, keyed with the webhook secret in Unicode NFKD form, as its client libraries
  compute it.
- Karrio does not sign: it sends the webhook's own secret in `X-Event-Id`.
- Shippo does not sign by default: its documented way is a self-generated token at the end
  of the configured URL, `?token=...`.

A URL token is accepted for Karrio too, for a proxy that strips headers. Every check
compares in constant time against every configured secret (no early exit, so timing does
not tell which matched); several secrets are accepted while one replaces another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from pydantic import SecretStr

AFTERSHIP_HEADER = "aftership-hmac-sha256"
EASYPOST_HEADER = "x-hmac-signature"
EASYPOST_PREFIX = "hmac-sha256-hex="
KARRIO_HEADER = "x-event-id"
TOKEN_PARAMETER = "token"  # noqa: S105 (a query parameter's name)

# How each source proves itself, in words for the 401 (and the README).
PROOF = {
    "aftership": f"the {AFTERSHIP_HEADER} header (base64 HMAC-SHA256 of the body)",
    "easypost": f"the X-Hmac-Signature header ({EASYPOST_PREFIX}<hex HMAC-SHA256 of the body>)",
    "karrio": "the webhook secret in the X-Event-Id header, or ?token= in the URL",
    "shippo": "?token=<secret> at the end of the webhook URL",
}


def _digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def _aftership(secret: str, body: bytes, headers: Mapping[str, str], _q: Mapping[str, str]) -> bool:
    given = headers.get(AFTERSHIP_HEADER, "").strip()
    expected = base64.b64encode(_digest(secret, body)).decode()
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _easypost(secret: str, body: bytes, headers: Mapping[str, str], _q: Mapping[str, str]) -> bool:
    given = headers.get(EASYPOST_HEADER, "").strip().lower()
    key = unicodedata.normalize("NFKD", secret)
    expected = EASYPOST_PREFIX + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _token(given: str, secret: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


def _karrio(
    secret: str, _body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
) -> bool:
    in_header = _token(headers.get(KARRIO_HEADER, "").strip(), secret)
    in_url = _token(query.get(TOKEN_PARAMETER, ""), secret)
    return in_header | in_url


def _shippo(secret: str, _body: bytes, _h: Mapping[str, str], query: Mapping[str, str]) -> bool:
    return _token(query.get(TOKEN_PARAMETER, ""), secret)


_Check = Callable[[str, bytes, Mapping[str, str], Mapping[str, str]], bool]
_CHECKS: dict[str, _Check] = {
    "aftership": _aftership,
    "easypost": _easypost,
    "karrio": _karrio,
    "shippo": _shippo,
}


def verified(
    source: str,
    secrets: Iterable[SecretStr],
    *,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> bool:
    """Whether the request proves it comes from `source`, by any of its `secrets`.

    `headers` must look names up case-insensitively (Starlette's Headers do).
    """
    check = _CHECKS[source]
    matched = False
    for secret in secrets:
        matched |= check(secret.get_secret_value(), body, headers, query)
    return matched
