"""Which Redis `qf up` picks, and where it says the web app is."""

from __future__ import annotations

import pytest

from quantumflux.qf.config import UpSettings
from quantumflux.qf.stack import StackError, choose_redis, web_url
from tests.conftest import free_port


def test_web_url_follows_the_gateway_settings():
    assert web_url({}) == "http://127.0.0.1:3001"
    assert web_url({"QF_GATEWAY_PORT": "4000"}) == "http://127.0.0.1:4000"
    assert web_url({"QF_GATEWAY_HOST": "0.0.0.0", "QF_GATEWAY_PORT": "8080"}) == "http://127.0.0.1:8080"


def test_choose_redis(redis_url):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    assert choose_redis(UpSettings(local_redis_url=redis_url), {}) == (redis_url, False)
    assert choose_redis(UpSettings(local_redis_url=closed), {}) == ("", True)
    assert choose_redis(UpSettings(local_redis_url=redis_url, embedded_redis=True), {}) == ("", True)
    given = UpSettings(redis_url=redis_url, local_redis_url=closed)
    assert choose_redis(given, {"QF_REDIS_URL": redis_url}) == (redis_url, False)
    with pytest.raises(StackError, match="does not answer"):
        choose_redis(UpSettings(redis_url=closed), {"QF_REDIS_URL": closed})
