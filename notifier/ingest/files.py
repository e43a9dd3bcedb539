"""Reading event files (JSON Lines, CSV) as a stream of records, one line at a time."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from notifier.carriers.native import REQUIRED
from notifier.errors import FieldError, InputFormatError

# csv's default field limit (128 KiB) fails a whole file on one bad line; ours is per line.
MAX_LINE_BYTES = 64 * 1024


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


_EXTENSIONS = {".jsonl": FileFormat.JSONL, ".ndjson": FileFormat.JSONL, ".csv": FileFormat.CSV}


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: its payload, or why it could not even be read."""

    line: int
    payload: dict[str, Any] | None
    raw: str
    error: FieldError | None = None


def detect_format(path: Path) -> FileFormat:
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    known = ", ".join(_EXTENSIONS)
    raise InputFormatError(
        f"{path}: cannot tell the format from the name (use {known} or --format)"
    )


def read_records(stream: BinaryIO, file_format: FileFormat) -> Iterator[Record]:
    if file_format is FileFormat.JSONL:
        return _jsonl_records(stream)
    return _csv_records(stream)


def _jsonl_records(stream: BinaryIO) -> Iterator[Record]:
    for number, line in enumerate(stream, start=1):
        if len(line) > MAX_LINE_BYTES:
            yield Record(
                number, None, "", FieldError("-", f"line longer than {MAX_LINE_BYTES} bytes")
            )
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError as exc:
            yield Record(number, None, "", FieldError("-", f"not UTF-8 text ({exc.reason})"))
            continue
        if not text:
            continue
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield Record(number, None, text, FieldError("-", f"not valid JSON: {exc}"))
            continue
        if not isinstance(payload, dict):
            yield Record(number, None, text, FieldError("-", "expected a JSON object"))
            continue
        yield Record(number, payload, text)


def _decoded_lines(stream: BinaryIO) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        # Undecodable bytes become U+FFFD, which _csv_records turns into a rejected line.
        yield line[:MAX_LINE_BYTES].decode("utf-8-sig" if number == 1 else "utf-8", "replace")


def _csv_records(stream: BinaryIO) -> Iterator[Record]:
    reader = csv.reader(_decoded_lines(stream))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputFormatError(f"cannot read the CSV header: {exc}") from exc
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputFormatError(f"the CSV header lacks required column(s): {', '.join(missing)}")
    for name in header:
        nested = next((other for other in header if other.startswith(f"{name}.")), None)
        if nested:
            raise InputFormatError(f"the CSV header has both {name!r} and {nested!r}")
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield Record(start, None, "", FieldError("-", f"not valid CSV: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if any("\ufffd" in cell for cell in row):
            yield Record(start, None, "", FieldError("-", "not UTF-8 text"))
            continue
        if len(row) != len(header):
            reason = f"has {len(row)} fields, the header has {len(header)}"
            yield Record(start, None, "", FieldError("-", reason))
            continue
        payload = unflatten(dict(zip(header, row, strict=True)))
        yield Record(start, payload, json.dumps(payload, ensure_ascii=False))


def unflatten(flat: dict[str, str]) -> dict[str, Any]:
    """CSV columns `recipient.phone` become {"recipient": {"phone": ...}}; blanks are absent."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        value = value.strip()
        if not key or not value:
            continue
        target = nested
        *parents, leaf = key.split(".")
        for part in parents:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                break
            target = child
        else:
            target[leaf] = value
    return nested
