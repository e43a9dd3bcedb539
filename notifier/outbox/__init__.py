"""The outbox as a queue: its rows, and all of its SQL."""
