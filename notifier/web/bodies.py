"""A request's raw body, read with a ceiling: the events API and the webhooks keep the
exact bytes (a signature is over them) and never hold more than the configured limit."""

from __future__ import annotations

from fastapi import Request

from notifier.errors import RequestTooLargeError


async def read_body(request: Request, limit: int) -> bytes:
    """The body's bytes; RequestTooLargeError past `limit`, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:  # chunked uploads declare no length
            raise RequestTooLargeError(f"the body is larger than {limit} bytes")
    return bytes(body)
