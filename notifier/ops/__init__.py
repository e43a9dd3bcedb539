"""What depot staff and ops take away: the day's bookings list, the callbacks to make and the
day's promise figures."""
