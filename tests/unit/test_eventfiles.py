"""Reading event files: JSON Lines and CSV, line numbers, and lines that cannot be read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from notifier.errors import InputFormatError
from notifier.ingest.files import FileFormat, detect_format, read_records, unflatten


def records(data: bytes, fmt: FileFormat) -> list[tuple[int, object, str | None]]:
    return [
        (r.line, r.payload, r.error.reason if r.error else None)
        for r in read_records(io.BytesIO(data), fmt)
    ]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("events.jsonl", FileFormat.JSONL),
        ("events.NDJSON", FileFormat.JSONL),
        ("2026-11-22.events.csv", FileFormat.CSV),
    ],
)
def test_the_format_comes_from_the_extension(name: str, fmt: FileFormat) -> None:
    assert detect_format(Path(name)) is fmt


def test_an_unknown_extension_asks_for_format() -> None:
    with pytest.raises(InputFormatError, match="--format"):
        detect_format(Path("events.txt"))


def test_json_lines_keep_their_line_numbers_and_skip_blank_lines() -> None:
    data = b'\xef\xbb\xbf{"a": 1}\n\n{"b": 2}\nnot json\n[1]\n\xff\xfe\n'
    got = records(data, FileFormat.JSONL)
    assert got[0] == (1, {"a": 1}, None)
    assert got[1] == (3, {"b": 2}, None)
    assert got[2][0] == 4
    assert "not valid JSON" in str(got[2][2])
    assert got[3] == (5, None, "expected a JSON object")
    assert got[4][0] == 6
    assert "UTF-8" in str(got[4][2])


def test_a_deeply_nested_line_is_rejected_not_crashed() -> None:
    got = records(b"[" * 100_000 + b"\n" + b'{"ok": true}\n', FileFormat.JSONL)
    assert got[0][0] == 1
    assert got[0][2] is not None
    assert got[1] == (2, {"ok": True}, None)


CSV = (
    "event_id,tracking_number,status,occurred_at,recipient.phone,recipient.name,next_attempt.date\n"
    'e1,RP1,CREATED,2026-11-22T10:00:00+01:00,+39 333 123 4567,"Bianchi, Giovanni",\n'
    'e2,RP1,DELIVERY_ATTEMPTED,2026-11-22T11:00:00+01:00,,"two\nlines",2026-11-23\n'
    "e3,RP1,DELIVERED\n"
    "\n"
    "e4,RP1,DELIVERED,2026-11-24T11:00:00+01:00,,,\n"
)


def test_csv_columns_with_dots_become_nested_objects() -> None:
    got = records(CSV.encode(), FileFormat.CSV)
    assert got[0] == (
        2,
        {
            "event_id": "e1",
            "tracking_number": "RP1",
            "status": "CREATED",
            "occurred_at": "2026-11-22T10:00:00+01:00",
            "recipient": {"phone": "+39 333 123 4567", "name": "Bianchi, Giovanni"},
        },
        None,
    )
    assert got[1][0] == 3
    assert got[1][1]["next_attempt"] == {"date": "2026-11-23"}  # type: ignore[index]
    assert got[2] == (5, None, "has 3 fields, the header has 7")  # quoted newline: line 3-4
    assert got[3][0] == 7


def test_csv_records_carry_their_payload_as_json() -> None:
    (first, *_) = read_records(io.BytesIO(CSV.encode()), FileFormat.CSV)
    assert json.loads(first.raw) == first.payload


def test_a_csv_without_required_columns_is_refused_whole() -> None:
    with pytest.raises(InputFormatError, match="occurred_at"):
        list(read_records(io.BytesIO(b"event_id,tracking_number,status\n"), FileFormat.CSV))


def test_a_csv_line_with_bad_bytes_is_rejected_alone() -> None:
    data = b"event_id,tracking_number,status,occurred_at\n\xff,RP1,CREATED,x\ne2,RP1,CREATED,x\n"
    got = records(data, FileFormat.CSV)
    assert got[0] == (2, None, "not UTF-8 text")
    assert got[1][0] == 3
    assert got[1][2] is None


def test_unflatten_trims_and_leaves_out_blanks() -> None:
    assert unflatten({"a": " 1 ", "b.c": "", "d.e": "2", "d.f": "3"}) == {
        "a": "1",
        "d": {"e": "2", "f": "3"},
    }


def test_a_column_that_is_also_a_group_is_refused() -> None:
    header = b"event_id,tracking_number,status,occurred_at,recipient,recipient.phone\n"
    with pytest.raises(InputFormatError, match=r"'recipient' and 'recipient\.phone'"):
        list(read_records(io.BytesIO(header), FileFormat.CSV))
