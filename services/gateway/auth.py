"""Who may use the gateway: the API token, on REST (a bearer header) and on Socket.IO (``auth.token``)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import RequestResponseEndpoint

from quantumflux.gateway.config import GatewaySettings

OPEN_PATHS = ("/health",)
NEEDS_TOKEN = "A valid token is needed: send the header 'Authorization: Bearer <token>'."


def token_matches(given: Any, expected: str | None) -> bool:
    """True when ``given`` is the configured token (compared in constant time)."""
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given, expected or "")


def carries_token(settings: GatewaySettings, header: str) -> bool:
    """True when an ``Authorization`` header is ``Bearer <the token>``."""
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token_matches(token.strip(), settings.api_token)


def bearer_ok(settings: GatewaySettings, header: str) -> bool:
    """True when an ``Authorization`` header carries the token, or none is needed."""
    return not settings.needs_token() or carries_token(settings, header)


def action_ok(settings: GatewaySettings, header: str) -> bool:
    """For what acts on trading (the kill switch): the token whenever one is set, even on loopback,
    where reading needs none."""
    return not settings.api_token or carries_token(settings, header)


def socket_auth_ok(settings: GatewaySettings, auth: Any) -> bool:
    """True when a Socket.IO client's ``auth`` carries the token, or none is needed."""
    if not settings.needs_token():
        return True
    token = auth.get("token") if isinstance(auth, dict) else None
    return token_matches(token, settings.api_token)


def guarded(path: str) -> bool:
    """True for the paths the token protects: the API and the metrics (the web app's files stay open)."""
    return (path.startswith("/api/") or path == "/metrics") and path not in OPEN_PATHS


class TokenGuard:
    """HTTP middleware: refuses guarded paths without the token."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings

    async def __call__(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if guarded(request.url.path) and not bearer_ok(
            self.settings, request.headers.get("authorization", "")
        ):
            return JSONResponse({"error": NEEDS_TOKEN}, status_code=401)
        return await call_next(request)
