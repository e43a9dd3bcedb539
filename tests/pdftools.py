"""Reading PDFs the way a printer and a phone do: poppler's pdftoppm/pdftotext and zbar."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import require

TOOLS = {"pdftoppm": "poppler-utils", "pdftotext": "poppler-utils", "pdfinfo": "poppler-utils"}
TOOLS["zbarimg"] = "zbar-tools"


def need_tools() -> None:
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            require(package, f"{tool} not found: apt-get install {package}")


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE)
    assert match, info.stdout
    return int(match.group(1))


def page_text(pdf: Path, page: int) -> str:
    """The text of one page (1-based), in reading order."""
    command = ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def run(*command: str | Path) -> str:
    """A tool's standard output; a failure fails the test."""
    done = subprocess.run(
        [str(part) for part in command], check=True, capture_output=True, text=True, timeout=120
    )
    return done.stdout


def page_texts(pdf: Path) -> list[str]:
    """Each page's text, whitespace made single spaces (pdftotext ends pages with \\f)."""
    command = ["pdftotext", "-layout", str(pdf), "-"]
    pages = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [" ".join(page.split()) for page in pages.split("\f")[:-1]]


def page_size_pt(pdf: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info.stdout, re.MULTILINE)
    assert match, info.stdout
    return float(match.group(1)), float(match.group(2))


def qr_codes(pdf: Path, *, dpi: int = 150, cells: tuple[int, int] = (1, 1)) -> list[list[str]]:
    """What zbar decodes on each page rasterised at `dpi`, page by page.

    With cells=(columns, rows) each page is cut into that grid (the A4 sheet of four
    slips) and every cell decoded on its own, in reading order: zbar reliably finds one
    code per image, not always all four on a sheet.
    """
    out = pdf.parent / f"{pdf.stem}-{dpi}dpi"
    out.mkdir(exist_ok=True)
    width_pt, height_pt = page_size_pt(pdf)
    width, height = round(width_pt / 72 * dpi), round(height_pt / 72 * dpi)
    columns, rows = cells
    found = []
    for page in range(1, page_count(pdf) + 1):
        codes: list[str] = []
        for row in range(rows):
            for column in range(columns):
                image = out / f"p{page}-{row}-{column}"
                x, y = column * width // columns, row * height // rows
                crop = ["-x", str(x), "-y", str(y), "-W", str(width // columns)]
                crop += ["-H", str(height // rows)]
                pages = ["-f", str(page), "-l", str(page)]
                command = ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", *pages, *crop]
                subprocess.run([*command, str(pdf), str(image)], check=True)
                codes += _decode(image.with_suffix(".png"))
        found.append(codes)
    return found


def _decode(image: Path) -> list[str]:
    # zbarimg exits 4 when an image holds no code: that is an answer, not a failure.
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 4), result.stderr
    return [line for line in result.stdout.splitlines() if line]
