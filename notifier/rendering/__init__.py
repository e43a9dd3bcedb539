"""What messages say: the one Jinja environment, the template context, SMS text, calendar files."""
