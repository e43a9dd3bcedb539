"""Reading event files (JSON Lines, CSV, a JSON array) as a stream of records."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from notifier import strictjson
from notifier.carriers import NATIVE, PARSERS
from notifier.carriers.native import REQUIRED
from notifier.errors import FieldError, InputFormatError

# csv's default field limit (128 KiB) fails a whole file on one bad line; ours is per line.
MAX_LINE_BYTES = 64 * 1024


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    # An aggregator's export: JSON Lines, or the whole file one JSON array of payloads.
    JSON = "json"


# A JSON array is read whole (its elements' lines are known only once it parses): a bound.
MAX_ARRAY_BYTES = 64 * 1024 * 1024


_EXTENSIONS = {".jsonl": FileFormat.JSONL, ".ndjson": FileFormat.JSONL, ".csv": FileFormat.CSV}


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: its payload, or why it could not even be read."""

    line: int
    payload: dict[str, Any] | None
    raw: str
    error: FieldError | None = None


@dataclass(frozen=True, slots=True)
class InputFormat:
    """How to read a file and whose payloads its records are (a key of carriers.PARSERS)."""

    file_format: FileFormat
    parser: str = NATIVE


def input_format(name: str | None, path: Path) -> InputFormat:
    """`--format`: jsonl or csv for native events, or an aggregator's name; else the
    file's extension (native events)."""
    if name is None:
        return InputFormat(detect_format(path))
    if name in (FileFormat.JSONL, FileFormat.CSV):
        return InputFormat(FileFormat(name))
    if name in PARSERS and name != NATIVE:
        return InputFormat(FileFormat.JSON, name)
    known = ", ".join([FileFormat.JSONL, FileFormat.CSV, *(p for p in PARSERS if p != NATIVE)])
    raise InputFormatError(f"unknown format {name!r} (use one of {known})")


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
    if file_format is FileFormat.JSON:
        return _json_records(stream)
    return _csv_records(stream)


def _json_records(stream: BinaryIO) -> Iterator[Record]:
    start = stream.read(4096)
    stream.seek(0)
    if not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return _jsonl_records(stream)
    body = stream.read(MAX_ARRAY_BYTES + 1)
    if len(body) > MAX_ARRAY_BYTES:
        raise InputFormatError(f"a JSON array over {MAX_ARRAY_BYTES} bytes: use JSON Lines")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"not UTF-8 text ({exc.reason})") from exc
    # Read before anything is stored: a broken array cannot be resumed past its error,
    # so the file is refused whole rather than half stored.
    return iter(list(_array_records(text)))


_SPACE = " \t\r\n"


def _array_records(text: str) -> Iterator[Record]:
    """Each element of a JSON array with the line it starts on."""
    decoder = strictjson.decoder()
    at, line, counted = text.index("[") + 1, 1, 0
    while True:
        while at < len(text) and text[at] in _SPACE:
            at += 1
        if at >= len(text):
            raise InputFormatError("the JSON array is not closed with ]")
        if text[at] == "]" and counted == 0:
            break
        line += text.count("\n", counted, at)
        counted = at
        try:
            payload, end = decoder.raw_decode(text, at)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or NaN refused
            raise InputFormatError(f"line {line}: not valid JSON: {exc}") from exc
        if isinstance(payload, dict):
            yield Record(line, payload, text[at:end])
        else:
            yield Record(line, None, text[at:end], FieldError("-", "expected a JSON object"))
        at = end
        while at < len(text) and text[at] in _SPACE:
            at += 1
        if at < len(text) and text[at] == ",":
            at += 1
            continue
        if at < len(text) and text[at] == "]":
            break
        raise InputFormatError(f"line {line}: the JSON array needs a , or ] after an element")
    if text[at + 1 :].strip(_SPACE):
        raise InputFormatError("text after the JSON array's closing ]")


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
            payload = strictjson.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or NaN refused
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
