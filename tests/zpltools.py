"""Reading ZPL the way a label printer does: its fields, and a PNG drawn by zpl-renderer-js."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, require

RENDERER = REPO / "tests" / "tools" / "render_zpl.mjs"
RENDERER_PACKAGE = REPO / "node_modules" / "zpl-renderer-js" / "package.json"

_TEXT = re.compile(
    r"\^FO(\d+),(\d+)\^A0N,(\d+),(\d+)\^FB(\d+),(\d+),(-?\d+),L,0\^FH\^FD(.*?)\^FS", re.DOTALL
)
_QR = re.compile(r"\^FO(\d+),(\d+)\^BQN,2,(\d+),Q\^FH\^FD(.*?)\^FS", re.DOTALL)
_HEX = re.compile(rb"_([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class TextField:
    x: int
    y: int
    height: int
    width_param: int  # ^A0's character width
    block_width: int  # ^FB's
    max_lines: int
    spacing: int
    lines: list[str]  # decoded, as printed
    raw_lines: list[str]  # as sent, escapes and all

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def bottom(self) -> int:
        return self.y + len(self.lines) * self.height + (len(self.lines) - 1) * self.spacing


@dataclass(frozen=True)
class QrField:
    x: int
    y: int
    magnification: int
    data: str  # decoded field data, the "QA," prefix included


def decode_field_data(data: str) -> str:
    """^FH field data as the printer reads it: _XX is the byte XX; bytes are UTF-8 (^CI28)."""
    return _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data.encode()).decode()


def text_fields(zpl: str) -> list[TextField]:
    found = []
    for match in _TEXT.finditer(zpl):
        x, y, h, w, block, lines, spacing = (int(v) for v in match.groups()[:7])
        raw_lines = match.group(8).split("\\&")
        decoded = [decode_field_data(line) for line in raw_lines]
        found.append(TextField(x, y, h, w, block, lines, spacing, decoded, raw_lines))
    return found


def qr_fields(zpl: str) -> list[QrField]:
    return [
        QrField(int(x), int(y), int(m), decode_field_data(data))
        for x, y, m, data in _QR.findall(zpl)
    ]


def command_value(zpl: str, command: str) -> int:
    """The number after a header command (^PW, ^LL)."""
    match = re.search(re.escape(command) + r"(\d+)", zpl)
    assert match, f"{command} missing"
    return int(match.group(1))


def field_with(zpl: str, text: str) -> TextField:
    """The one text field whose printed text contains `text`."""
    found = [f for f in text_fields(zpl) if text in f.text]
    assert len(found) == 1, f"{text!r} in {len(found)} fields: {[f.text for f in text_fields(zpl)]}"
    return found[0]


def lines_alone(zpl: str) -> tuple[str, list[tuple[int, int, int]]]:
    """Each text line of the label as a field of its own, without ^FB, one under another
    from the left edge, and each one's (top, height, block width): drawn, no line may be
    wider than the block it was laid out for, or a printer would wrap it again."""
    commands, bands, y = ["^XA", "^CI28"], [], 0
    for field in text_fields(zpl):
        for raw in field.raw_lines:
            commands.append(f"^FO0,{y}^A0N,{field.height},{field.height}^FH^FD{raw}^FS")
            bands.append((y, field.height, field.block_width))
            y += field.height * 2
    return "\n".join([*commands, "^XZ"]), bands


def need_renderer() -> None:
    if shutil.which("node") is None:
        require("zpl-renderer", "node not on PATH: apt-get install nodejs")
    if not RENDERER_PACKAGE.exists():
        require("zpl-renderer", "npm install --no-save zpl-renderer-js (see .ci/run)")
    if shutil.which("zbarimg") is None:
        require("zbar-tools", "zbarimg not on PATH: apt-get install zbar-tools")


def render_png(zpl: str, out: Path, *, width_mm: float, height_mm: float, dpmm: int) -> Path:
    """The label drawn by Zebrash (zpl-renderer-js) on a canvas of that size."""
    command = ["node", str(RENDERER), str(out), str(width_mm), str(height_mm), str(dpmm)]
    done = subprocess.run(command, input=zpl.encode(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return out


def decode_qr(image: Path) -> list[str]:
    # zbarimg exits 4 when an image holds no code: that is an answer, not a failure.
    result = subprocess.run(
        ["zbarimg", "--nodbus", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 4), result.stderr
    return [line for line in result.stdout.splitlines() if line]
