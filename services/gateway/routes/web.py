"""The built web app at ``/`` and at every path the app routes itself (a single-page app)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, Response

from quantumflux.gateway.routes.answers import error

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# The build an installed package carries (scripts/build-wheel.sh puts it there).
PACKAGED = Path(__file__).resolve().parents[1] / "webapp"

NOT_BUILT = """QuantumFlux: the web app is not built yet.

Build it once with:

    cd web && npm install && npm run build

then reload this page. The live data is already served here over Socket.IO and /api.
"""


def resolve_web_dir(path: Path) -> Path:
    """The folder of the built app: a relative one that is not here is looked for in the project's
    own folder, then in the installed package, so a gateway started elsewhere still serves it."""
    if not path.is_absolute() and not path.exists():
        for base in (PROJECT_ROOT / path, PACKAGED):
            if (base / "index.html").is_file():
                return base.resolve()
    return path.resolve()


class WebRoutes:
    """Files of the built app; any other path gets ``index.html``. Included last: it takes every path."""

    def __init__(self, web_dir: Path) -> None:
        self.web_dir = web_dir
        self.router = APIRouter()
        self.router.add_api_route(
            "/{path:path}", self.page, methods=["GET"], response_model=None, include_in_schema=False
        )

    async def page(self, path: str) -> Response:
        """A file of the app, or the app itself; ``/api/…`` paths no route took are a 404."""
        if path.startswith("api/"):
            return error(404, "No such API endpoint.")
        index = self.web_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT)
        target = (self.web_dir / path).resolve()
        if path and target.is_file() and target.is_relative_to(self.web_dir):
            return FileResponse(target)
        return FileResponse(index)
