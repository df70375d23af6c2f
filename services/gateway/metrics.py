"""Prometheus counters of one gateway (its own registry, so several gateways can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    """Clients, events relayed, messages dropped and coalesced, relay lag, Redis health."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.clients = Gauge("qf_gateway_clients", "Browsers connected now.", registry=r)
        self.relayed = Gauge("qf_gateway_events_relayed", "Candle updates read from the bus.", registry=r)
        self.deliveries = Counter(
            "qf_gateway_candle_deliveries", "Candle updates queued for browsers.", registry=r
        )
        self.dropped = Counter(
            "qf_gateway_messages_dropped",
            "Messages not sent because their browser left or was let go.",
            registry=r,
        )
        self.coalesced = Counter(
            "qf_gateway_messages_coalesced", "Forming-candle updates replaced by a newer one.", registry=r
        )
        self.slow_disconnects = Counter(
            "qf_gateway_slow_disconnects", "Browsers let go because they could not keep up.", registry=r
        )
        self.malformed = Gauge(
            "qf_gateway_malformed_entries", "Bus entries skipped as unreadable.", registry=r
        )
        self.lag = Gauge(
            "qf_gateway_relay_lag_seconds", "Age of the last candle update when it was read.", registry=r
        )
        self.redis_up = Gauge("qf_gateway_redis_up", "1 when Redis answers.", registry=r)
