"""QR codes as one SVG path: the path's runs give back qrcode's own matrix, quiet zone and all."""

from __future__ import annotations

import re

import pytest
import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_Q

from notifier.slips.qr import build_qr_svg

URL = "https://rapido.example/r/Zx3_kq9PmT2aLw8vRb4nCd"


def modules_from_svg(svg: str) -> list[list[bool]]:
    """Paint the path's runs ('M4 7h3v1h-3z') into a matrix the size of the viewBox."""
    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    matrix = [[False] * side for _ in range(side)]
    d = re.search(r'<path[^>]* d="([^"]*)"', svg).group(1)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", d)
    assert "".join(f"M{x} {y}h{n}v1h-{n}z" for x, y, n in runs) == d, "only runs in the path"
    for x, y, n in runs:
        for column in range(int(x), int(x) + int(n)):
            assert not matrix[int(y)][column], "runs never overlap"
            matrix[int(y)][column] = True
    return matrix


def qrcode_matrix(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


@pytest.mark.parametrize(
    "data",
    [URL, "https://rapido.example/r/" + "x" * 60, "A"],
    ids=["rebooking-url", "long-url", "one-char"],
)
def test_path_runs_rebuild_the_qr_matrix(data: str) -> None:
    svg = build_qr_svg(data, size_mm=34)
    assert svg.count("<path") == 1
    assert modules_from_svg(svg) == qrcode_matrix(data)


def test_quiet_zone_is_four_modules_on_every_side() -> None:
    matrix = modules_from_svg(build_qr_svg(URL, size_mm=34))
    side = len(matrix)
    for i in range(side):
        for j in (*range(4), *range(side - 4, side)):
            assert not matrix[i][j]
            assert not matrix[j][i]
    # The finder pattern's corner starts right after the quiet zone.
    assert matrix[4][4]
    assert matrix[side - 5][4]
    assert matrix[4][side - 5]


def test_error_correction_is_level_q() -> None:
    matrix = modules_from_svg(build_qr_svg(URL, size_mm=34))
    code = [row[4:-4] for row in matrix[4:-4]]
    count = len(code)
    # Format information along column 8, in the order qrcode's setup_type_info writes it.
    rows = [*range(6), 7, 8, *(count - 15 + i for i in range(8, 15))]
    bits = sum(code[row][8] << i for i, row in enumerate(rows))
    assert any(util.BCH_type_info((ERROR_CORRECT_Q << 3) | mask) == bits for mask in range(8))


def test_printed_size_is_the_whole_square_in_millimetres() -> None:
    svg = build_qr_svg(URL, size_mm=34)
    assert 'width="34mm"' in svg
    assert 'height="34mm"' in svg
    assert 'shape-rendering="crispEdges"' in svg
    assert 'fill="#000"' in svg
    assert 'fill="#fff"' in svg
