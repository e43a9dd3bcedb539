"""What depot staff and ops take away: the day's bookings list."""
