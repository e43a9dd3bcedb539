"""Fixtures for real provider stand-ins: SMTP server, Prism with Twilio's spec, fake Twilio."""
