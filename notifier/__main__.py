"""`python -m notifier`: the same command line as the `notifier` script."""

from notifier.cli import main

main()
