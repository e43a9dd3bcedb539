"""The rebooking pages' rate limits shared by every `notifier serve` replica through Redis
(issue 16, item 4): two replicas give a client the limit once, not twice; guessing codes
from many addresses meets a global budget; a Redis that fails keeps the limits locally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.web.app import create_app
from notifier.web.rebook import CODE_LIMIT, CODES_GLOBAL_LIMIT
from tests.conftest import make_settings, require

# A database of Redis's own for these tests, emptied before and after each.
REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_db() -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        require("redis", f"cannot reach {REDIS_URL}: {type(exc).__name__}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def replica(engine: Engine, storage: str, client: str = "198.51.100.7") -> TestClient:
    """One `notifier serve` replica's app, seen from a client at `client`."""
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, web={"rate_limit_storage": storage})
    return TestClient(create_app(settings, engine=engine), client=(client, 50000))


def type_a_code(page: TestClient) -> int:
    # Counted before anything else is looked at: no form token needed to be limited.
    return page.post("/r", data={"code": "ABCD-EFGH", "csrf": "x"}).status_code


def test_two_replicas_share_one_limit_for_a_client(sqlite_engine: Engine, redis_db: Any) -> None:
    first, second = replica(sqlite_engine, REDIS_URL), replica(sqlite_engine, REDIS_URL)
    allowed = CODE_LIMIT[0]
    answers = [type_a_code(first if n % 2 else second) for n in range(allowed)]
    assert 429 not in answers
    refused = second.post("/r", data={"code": "ABCD-EFGH", "csrf": "x"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert type_a_code(first) == 429


def test_each_replica_counts_alone_in_memory(sqlite_engine: Engine) -> None:
    # The default: what the shared storage changes, shown by its absence.
    first, second = replica(sqlite_engine, "memory://"), replica(sqlite_engine, "memory://")
    for _ in range(CODE_LIMIT[0]):
        assert type_a_code(first) != 429
    assert type_a_code(first) == 429
    assert type_a_code(second) != 429


def test_guessing_from_many_addresses_meets_the_global_budget(
    sqlite_engine: Engine, redis_db: Any
) -> None:
    budget = CODES_GLOBAL_LIMIT[0]
    per_client = CODE_LIMIT[0]
    clients = [
        replica(sqlite_engine, REDIS_URL, client=f"203.0.113.{n}")
        for n in range(budget // per_client + 1)
    ]
    answers = [type_a_code(page) for page in clients for _ in range(per_client)]
    assert answers[:budget].count(429) == 0
    assert set(answers[budget:]) == {429}
    fresh = replica(sqlite_engine, REDIS_URL, client="192.0.2.200")
    assert type_a_code(fresh) == 429  # an address never seen before: the budget is spent


def test_a_redis_that_fails_keeps_the_limits_in_the_process(sqlite_engine: Engine) -> None:
    # Nothing listens on port 1: every hit fails, and the replica limits on its own.
    page = replica(sqlite_engine, "redis://127.0.0.1:1/0")
    answers = [type_a_code(page) for _ in range(CODE_LIMIT[0] + 1)]
    assert 500 not in answers
    assert answers[-1] == 429
    assert page.get("/").status_code == 200
