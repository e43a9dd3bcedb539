"""Throughput and latency suites; each prints our figure as a ratio to a same-run ceiling."""
