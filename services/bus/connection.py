"""Redis connections made from one settings object: sync for stream workers, async for the gateway.

Both retry a failed command a few times with exponential backoff (redis-py's own retry), which
rides over a blip. A longer outage surfaces as ``redis.ConnectionError``; service loops catch it,
report it on their status and wait with :func:`wait_for_redis` / :func:`await_redis`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.config import BusSettings

RETRIABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


def _backoff(settings: BusSettings) -> ExponentialBackoff:
    return ExponentialBackoff(cap=min(settings.redis_retry_max, 1.0), base=0.05)


def _options(settings: BusSettings, kwargs: dict[str, Any], retry: Retry | AsyncRetry) -> dict[str, Any]:
    # The same connection behaviour for the sync and the async client; kwargs may override it.
    # Each client gets its own kind of Retry: redis.asyncio warns when handed the sync one.
    return {
        "retry": retry,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "socket_connect_timeout": 2.0,
        "socket_keepalive": True,
        "health_check_interval": 15,
        **kwargs,
    }


def connect_sync(settings: BusSettings, **kwargs: Any) -> redis.Redis:
    """A sync client (redis-py with hiredis) for the blocking stream workers."""
    retry = Retry(_backoff(settings), retries=3)
    return redis.Redis.from_url(settings.redis_url, **_options(settings, kwargs, retry))


def connect_async(settings: BusSettings, **kwargs: Any) -> aioredis.Redis:
    """An asyncio client (``redis.asyncio``) for the gateway."""
    retry = AsyncRetry(_backoff(settings), retries=3)
    return aioredis.Redis.from_url(settings.redis_url, **_options(settings, kwargs, retry))


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when a Redis answers PING at ``url`` within ``timeout`` seconds."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def wait_for_redis(
    client: redis.Redis,
    *,
    backoff: Backoff | None = None,
    on_retry: Callable[[Exception, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """Block until ``client`` answers PING, backing off between tries; False if ``stop()`` said so.

    ``sleep`` waits between tries; a worker passes its stop event's ``wait`` so a stop request
    ends the wait at once rather than after the backoff.
    """
    bo = backoff or Backoff(initial=0.2, cap=5.0)
    while True:
        try:
            client.ping()
            return True
        except RETRIABLE as exc:
            delay = bo.next_delay()
            if on_retry is not None:
                on_retry(exc, delay)
            if stop is not None and stop():
                return False
            sleep(delay)


async def await_redis(
    client: aioredis.Redis,
    *,
    backoff: Backoff | None = None,
    on_retry: Callable[[Exception, float], Awaitable[None]] | None = None,
) -> None:
    """Async twin of :func:`wait_for_redis`."""
    import asyncio

    bo = backoff or Backoff(initial=0.2, cap=5.0)
    while True:
        try:
            await client.ping()
            return
        except RETRIABLE as exc:
            delay = bo.next_delay()
            if on_retry is not None:
                await on_retry(exc, delay)
            await asyncio.sleep(delay)
