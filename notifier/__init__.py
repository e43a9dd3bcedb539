"""notifier: proactive delivery notifications, missed-delivery slips and rebooking."""

__version__ = "0.1.0"
