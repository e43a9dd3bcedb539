"""QR codes as small inline SVG: one path of horizontal runs, sized in millimetres for print."""

from __future__ import annotations

from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

# ISO/IEC 18004 section 9.1: a quiet zone of 4 modules on every side.
QUIET_ZONE = 4


def build_qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix (True is dark), quiet zone included: error correction Q, smallest fit."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


@lru_cache(maxsize=64)  # asked twice per label: for the magnification, then the layout
def qr_side_modules(data: str) -> int:
    """The code's side in modules, quiet zone left out: what the smallest version fitting
    `data` at error correction Q measures. Finding the version takes no masking, which is
    nine tenths of building the matrix (a label printer draws its own with ^BQ)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE, box_size=1)
    code.add_data(data)
    version = code.best_fit()
    return 17 + 4 * int(version)  # ISO/IEC 18004 section 5.3.1


def build_qr_svg(data: str, *, size_mm: float) -> str:
    """QR code as ONE <path> of run-length horizontal runs ('M4 7h3v1h-3z'), black on white.

    The viewBox counts modules, quiet zone included, so `size_mm` is the printed side of
    the whole square; crispEdges keeps neighbouring runs from showing hairline seams.
    """
    matrix = build_qr_matrix(data)
    side = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < side:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < side and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    size = f"{size_mm:g}mm"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
