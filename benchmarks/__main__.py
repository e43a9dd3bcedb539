"""`python -m benchmarks [--quick] [SUITE...]`: run the suites, print their ratios."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks import dispatch, ingest

SUITES: dict[str, Callable[[bool], None]] = {"ingest": ingest.main, "dispatch": dispatch.main}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suites", nargs="*", choices=[*SUITES, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    for name in args.suites or SUITES:
        print(f"== {name}", flush=True)
        SUITES[name](args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
