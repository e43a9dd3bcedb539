"""The pure decision of which messages an event calls for, and when (quiet hours)."""
