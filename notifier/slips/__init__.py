"""Slips: the slip model, which parcels a print run takes (missed deliveries, route packs,
final notices), the links printed on them, the QR code, the PDF and the commands."""
