"""Sending the outbox: the worker loop, its pure verdicts and retries, reads and records."""
