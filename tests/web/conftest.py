"""Fixtures the web app's browser tests share: a real Chromium page, the bus to publish on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.web.helpers import Bus, Page


@pytest.fixture
def page() -> Iterator[Page]:
    """A page in a real headless Chromium, closed after the test."""
    p = Page()
    yield p
    p.close()


@pytest.fixture
def bus(rclient: redis.Redis, prefix: str) -> Bus:
    """Publishes candles and events to the test's Redis prefix, as the services do."""
    return Bus(rclient, prefix)
