"""`notifier templates check` and `preview`: every template rendered against sample data."""
