"""Events in: checking and storing them idempotently, and queueing what they call for."""
