"""Rebooking: the pure booking rules, the links, and booking a choice."""
