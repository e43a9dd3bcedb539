"""The app as `notifier serve` runs it, plus a hello-world route: the rebooking benchmark's server.

Run as `python -m benchmarks.rebook_server SQLITE_URL PORT`; a separate process so the
load generator does not share its interpreter.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi.responses import PlainTextResponse

from notifier import paths
from notifier.config import load_settings
from notifier.web.app import create_app
from notifier.web.guards import RateLimiter


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    settings = load_settings(paths.example_config(), env={"NOTIFIER_DATABASE_URL": url})
    app = create_app(settings)

    @app.get("/bench/hello")
    def hello() -> PlainTextResponse:
        return PlainTextResponse("hello")

    # One client hammering one link is what the limits exist to stop; the benchmark keeps
    # the limiter's bookkeeping but not its refusals.
    unlimited = RateLimiter(limit=10**9, window=60.0)
    app.state.rebook_limits = {"token": unlimited, "client": unlimited, "code": unlimited}
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
