"""A safe ops login (issue 17, item 5): wrong passwords throttled per client and for
everyone, logged and counted; the ops pages never cached; check-config refuses a short
ops password."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from typer.testing import CliRunner

from notifier import cli
from notifier.web.app import create_app
from notifier.web.ops_login import EVERYONE, PER_CLIENT
from tests.conftest import REPO, TEST_SECRET_KEY, make_settings

PASSWORD = "a-long-ops-password-2026"


def ops_page(engine: Engine, client: str = "198.51.100.20") -> TestClient:
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, env={"NOTIFIER_OPS_PASSWORD": PASSWORD})
    return TestClient(create_app(settings, engine=engine), client=(client, 50000))


def failures() -> float:
    return REGISTRY.get_sample_value("notifier_ops_login_failures_total") or 0.0


def test_fifty_wrong_passwords_from_one_client_end_in_429(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    page = ops_page(sqlite_engine)
    before = failures()
    with caplog.at_level(logging.WARNING, logger="notifier.web.ops_login"):
        answers = [page.get("/ops", auth=("ops", f"guess-{n}")).status_code for n in range(50)]
    assert answers[: PER_CLIENT[0]] == [401] * PER_CLIENT[0]
    assert set(answers[PER_CLIENT[0] :]) == {429}
    # Only the tries that were checked count; the refused ones were not even looked at.
    assert failures() - before == PER_CLIENT[0]
    logged = [r.getMessage() for r in caplog.records]
    assert logged.count("ops: a wrong password was tried") == PER_CLIENT[0]
    assert not any("198.51.100.20" in line or "guess" in line for line in logged)
    # The right password waits too, from that client; another client is let in.
    locked = page.get("/ops", auth=("ops", PASSWORD))
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    elsewhere = TestClient(page.app, client=("203.0.113.9", 50000))
    assert elsewhere.get("/ops", auth=("ops", PASSWORD)).status_code == 200


def test_guessing_from_many_clients_meets_the_budget_for_everyone(sqlite_engine: Engine) -> None:
    app = ops_page(sqlite_engine).app
    per_client, total = PER_CLIENT[0], EVERYONE[0]
    for n in range(total // per_client):
        guesser = TestClient(app, client=(f"192.0.2.{n}", 50000))
        for attempt in range(per_client):
            assert guesser.get("/ops", auth=("ops", f"x{attempt}")).status_code == 401
    fresh = TestClient(app, client=("203.0.113.77", 50000))
    assert fresh.get("/ops", auth=("ops", PASSWORD)).status_code == 429


def test_a_browser_asking_without_a_password_is_not_a_failure(sqlite_engine: Engine) -> None:
    page = ops_page(sqlite_engine)
    for _ in range(PER_CLIENT[0] + 5):
        assert page.get("/ops").status_code == 401
    assert page.get("/ops", auth=("ops", PASSWORD)).status_code == 200


def test_ops_pages_are_never_cached_and_carry_the_security_headers(sqlite_engine: Engine) -> None:
    page = ops_page(sqlite_engine)
    for path in ("/ops", "/ops/callbacks", "/ops/bookings?date=2026-11-22"):
        answer = page.get(path, auth=("ops", PASSWORD))
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store", path
        assert "default-src 'none'" in answer.headers["content-security-policy"], path
        assert answer.headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize(("password", "code"), [("short-pass", 2), ("twelve-chars", 0)])
def test_check_config_refuses_a_short_ops_password(password: str, code: int) -> None:
    env = {
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFIER_CONFIG": None,
        "NOTIFIER_OPS_PASSWORD": password,
    }
    config = Path(REPO / "config.example.toml")
    result = CliRunner().invoke(cli.app, ["check-config", str(config)], env=env)
    assert result.exit_code == code, result.output
    if code:
        assert "NOTIFIER_OPS_PASSWORD" in result.output
        assert "12 characters" in result.output
        assert password not in result.output  # a secret is never printed
