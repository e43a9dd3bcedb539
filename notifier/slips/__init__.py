"""Missed-delivery slips: the slip model, which slips a print run holds, the QR code and the PDF."""
