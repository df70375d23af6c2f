"""``GET /metrics``: the gateway's Prometheus counters."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.routes.answers import documented


class MetricsRoutes:
    """The counters, with the relay's figures taken at the moment of asking."""

    def __init__(self, model: ReadModel, metrics: Metrics) -> None:
        self.model = model
        self.metrics = metrics
        self.router = APIRouter()
        self.router.add_api_route(
            "/metrics",
            self.page,
            methods=["GET"],
            response_class=PlainTextResponse,
            responses=documented(None, {}),
        )

    async def page(self) -> Response:
        """Prometheus text."""
        m, model = self.metrics, self.model
        m.relayed.set(model.counters["relayed"])
        m.malformed.set(model.counters["malformed"])
        m.lag.set(model.lag)
        m.redis_up.set(1 if model.redis_ok else 0)
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
