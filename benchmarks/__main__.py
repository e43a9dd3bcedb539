"""`python -m benchmarks [--quick] [SUITE...]`: run the suites, print their ratios."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import dispatch, ingest, labels, latency, peer, rebook, report, scale, slips

# A suite prints its own figures and raises if it cannot measure; a missed target is
# printed as MISSED, not raised, so one slow figure does not hide the others.
SUITES: dict[str, Callable[[bool], None]] = {
    "ingest": ingest.main,
    "rebook": rebook.main,
    "dispatch": dispatch.main,
    "slips": slips.main,
    "labels": labels.main,
    "scale": scale.main,
    "latency": latency.main,
    "peer": peer.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", metavar="SUITE", help=f"default: all of {list(SUITES)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--table",
        type=Path,
        default=Path("bench-results"),
        metavar="PREFIX",
        help="write every figure to PREFIX.md and PREFIX.json (default: bench-results)",
    )
    args = parser.parse_args()
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    for name in args.suites or SUITES:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        SUITES[name](args.quick)
        print(f"   ({name} took {time.perf_counter() - started:.0f} s)", flush=True)
    markdown, data = report.write(args.table)
    print(f"== the figures: {markdown} and {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
