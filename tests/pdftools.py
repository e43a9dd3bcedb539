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


def qr_codes(pdf: Path, *, dpi: int = 150) -> list[list[str]]:
    """What zbar decodes on each page, rasterised at `dpi`, page by page."""
    out = pdf.parent / f"{pdf.stem}-{dpi}dpi"
    out.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / "page")], check=True)
    found = []
    for image in sorted(out.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1])):
        # zbarimg exits 4 when a page holds no code: that is an answer, not a failure.
        result = subprocess.run(
            ["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
            capture_output=True,
            text=True,
        )
        assert result.returncode in (0, 4), result.stderr
        found.append([line for line in result.stdout.splitlines() if line])
    return found
