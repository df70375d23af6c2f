"""Fixtures of the system tests: a private Redis for a whole module, so one run serves many checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PrivateRedis


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """Like ``private_redis`` (append-only, may be stopped and started), shared by one module's tests."""
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
