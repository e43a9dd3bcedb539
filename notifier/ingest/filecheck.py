"""Reading and checking an event file in a second process while this one stores.

Reading and checking a line (JSON, every field, the phone number and the email
address) costs about as much as storing it, so on two cores a large import runs
both at once. The child writes checked lines in chunks to its stdout and blocks
when the pipe is full: it is never more than a pipe's worth (about 1,500 lines)
ahead, so memory stays flat. If this process dies, the pipe closes and the child
ends with it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from notifier.carriers import NATIVE, parser_for
from notifier.errors import InputFormatError
from notifier.ingest.checking import Checked, Incoming, ItemResult, check_payload
from notifier.ingest.files import FileFormat, read_records
from notifier.ingest.wire import Wire, from_wire, to_wire

CHUNK_LINES = 100
# About 1,500 checked lines in flight (the default ceiling for an unprivileged pipe).
PIPE_BYTES = 1024 * 1024
# Starting an interpreter and importing the checker takes about a tenth of a second:
# below about a thousand lines checking them here is quicker.
MIN_PARALLEL_BYTES = 512 * 1024
_STOP_WAIT_SECONDS = 10

# Messages from the child, each a pickle after its length: a chunk, the file's
# refusal, or the end.
_CHUNK, _REFUSED, _END = "chunk", "refused", "end"
_HEADER = struct.Struct("!I")


def worth_a_process(path: Path) -> bool:
    """Whether a second process pays for itself on this file."""
    try:
        return path.is_file() and path.stat().st_size >= MIN_PARALLEL_BYTES
    except OSError:
        return False


def checked_in_child(
    path: Path,
    file_format: FileFormat,
    *,
    parser: str = NATIVE,
    default_region: str,
    local_timezone: str = "UTC",
    now: Callable[[], datetime],
    progress: Callable[[int], None],
) -> Generator[Checked | ItemResult, None, None]:
    """The file's lines checked by a child process, in order; `progress` gets bytes read.

    Raises InputFormatError when the file is refused as a whole (a bad CSV header).
    """
    # The child keeps its own clock in step with ours (tests and benchmarks fix it).
    offset = (now() - datetime.now(UTC)).total_seconds()
    # A plain child interpreter, not multiprocessing: nothing of ours is re-imported
    # or inherited (an engine, a progress thread), whatever program runs this.
    command = [
        sys.executable,
        "-m",
        __name__,
        str(path),
        file_format.value,
        parser,
        default_region,
        local_timezone,
        repr(offset),
    ]
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)  # noqa: S603
    assert child.stdout is not None
    _widen(child.stdout)
    try:
        while (message := _receive(child.stdout)) is not None:
            if message[0] == _END:
                return
            if message[0] == _REFUSED:
                raise InputFormatError(message[1])
            _, read, items = message
            for item in items:
                if type(item) is tuple:
                    yield Checked(item[0], from_wire(item[1]))
                else:
                    yield item
            progress(read)
        code = child.wait(_STOP_WAIT_SECONDS)
        raise RuntimeError(f"the process checking {path} stopped (exit code {code})")
    finally:
        child.stdout.close()
        try:
            child.wait(_STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:  # we stopped early: an error, Ctrl-C
            child.kill()
            child.wait()


def _widen(pipe: IO[bytes]) -> None:
    """Let the child run a few batches ahead rather than one chunk.

    A pipe holds 64 KiB, less than a chunk: the child stalled as soon as this process
    went off to store a batch, and half the checking ran while this one waited.
    """
    # Not on Linux, or above /proc/sys/fs/pipe-max-size: the default pipe still works.
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _receive(stream: IO[bytes]) -> tuple[Any, ...] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    # From our own child over a pipe nobody else holds: trusted.
    message: tuple[Any, ...] = pickle.loads(body)  # noqa: S301
    return message


def _send(out: IO[bytes], message: tuple[object, ...]) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(body)))
    out.write(body)
    out.flush()


def check_file(
    path: str,
    file_format: FileFormat,
    default_region: str,
    offset: timedelta,
    out: IO[bytes],
    parser: str = NATIVE,
    local_timezone: str = "UTC",
) -> None:
    """The child's work: read, check and send every line, then the end."""
    parse = parser_for(parser, local_timezone=local_timezone)
    try:
        with open(path, "rb") as stream:
            chunk: list[tuple[int, Wire] | ItemResult] = []
            for record in read_records(stream, file_format):
                item = Incoming(record.line, record.payload, record.raw, record.error)
                moment = datetime.now(UTC) + offset
                for result in check_payload(
                    item, parser=parse, default_region=default_region, now=moment
                ):
                    if isinstance(result, Checked):
                        chunk.append((result.position, to_wire(result.event)))
                    else:
                        chunk.append(result)
                if len(chunk) >= CHUNK_LINES:
                    _send(out, (_CHUNK, stream.tell(), chunk))
                    chunk = []
            _send(out, (_CHUNK, stream.tell(), chunk))
        _send(out, (_END,))
    except InputFormatError as exc:
        _send(out, (_REFUSED, str(exc)))
    except BrokenPipeError:
        raise  # the parent has gone (see main), not a file we cannot read
    except OSError as exc:  # gone or unreadable since the parent opened it
        _send(out, (_REFUSED, f"cannot read: {exc}"))


def main(arguments: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent decides, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, file_format, parser, default_region, local_timezone, offset = arguments
    try:
        check_file(
            path,
            FileFormat(file_format),
            default_region,
            timedelta(seconds=float(offset)),
            sys.stdout.buffer,
            parser,
            local_timezone,
        )
    except BrokenPipeError:
        # The parent has gone: nothing waits for the rest. Point stdout at /dev/null so
        # the flush at exit does not fail again (the Python docs' SIGPIPE recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
