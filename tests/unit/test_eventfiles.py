"""Reading event files: JSON Lines, CSV and JSON arrays, line numbers, and lines that
cannot be read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from notifier.errors import InputFormatError
from notifier.ingest.files import (
    FileFormat,
    InputFormat,
    detect_format,
    input_format,
    read_records,
    unflatten,
)


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


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, InputFormat(FileFormat.CSV), id="extension"),
        pytest.param("jsonl", InputFormat(FileFormat.JSONL), id="native-jsonl"),
        pytest.param("karrio", InputFormat(FileFormat.JSON, "karrio"), id="aggregator"),
    ],
)
def test_the_format_option_names_a_file_format_or_an_aggregator(
    given: str | None, expected: InputFormat
) -> None:
    assert input_format(given, Path("events.csv")) == expected


@pytest.mark.parametrize("given", ["native", "xml"])
def test_other_format_names_are_refused_with_the_known_ones(given: str) -> None:
    with pytest.raises(InputFormatError, match="jsonl, csv, karrio, easypost, aftership, shippo"):
        input_format(given, Path("events.json"))


def test_a_json_array_gives_each_element_with_the_line_it_starts_on() -> None:
    data = b'\xef\xbb\xbf [\n  {"a": 1},\n  {\n    "b": [2, 3]\n  },\n  7\n]\n'
    assert records(data, FileFormat.JSON) == [
        (2, {"a": 1}, None),
        (3, {"b": [2, 3]}, None),
        (6, None, "expected a JSON object"),
    ]


def test_an_empty_json_array_has_no_records() -> None:
    assert records(b" [ ] ", FileFormat.JSON) == []


def test_json_that_is_not_an_array_is_read_as_json_lines() -> None:
    assert records(b'{"a": 1}\nnot json\n', FileFormat.JSON) == [
        (1, {"a": 1}, None),
        (2, None, "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b'[{"a": 1},\n{"b": ]', "line 2: not valid JSON", id="broken-element"),
        pytest.param(b'[{"a": 1} {"b": 2}]', "needs a , or ]", id="no-comma"),
        pytest.param(b'[{"a": 1},', "not closed", id="not-closed"),
        pytest.param(b'[{"a": 1}] {"b": 2}', "after the JSON array", id="trailing"),
    ],
)
def test_a_broken_json_array_is_refused_whole_before_any_element(data: bytes, problem: str) -> None:
    with pytest.raises(InputFormatError, match=problem):
        records(data, FileFormat.JSON)


def test_nan_and_infinity_are_not_json_in_a_file() -> None:
    lines = records(b'{"a": 1}\n{"weight": NaN}\n{"b": -Infinity}\n', FileFormat.JSONL)
    assert lines[0] == (1, {"a": 1}, None)
    assert [(n, p) for n, p, _ in lines[1:]] == [(2, None), (3, None)]
    assert all("no NaN or Infinity" in str(problem) for _, _, problem in lines[1:])
    with pytest.raises(InputFormatError, match="line 1: not valid JSON: Infinity"):
        records(b'[{"a": Infinity}]', FileFormat.JSON)
