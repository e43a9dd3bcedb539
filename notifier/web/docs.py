"""GET /docs: Swagger UI over /openapi.json, every asset from our own origin.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script; the
site's policy allows neither. This page loads the copy in the swagger-ui-bundle package
(PyPI: swagger-ui-bundle-v2) and a start script of ours, both served from here.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)

OPENAPI_URL = "/openapi.json"
_SWAGGER_UI = Path(str(swagger_ui_path))
_OWN = Path(__file__).resolve().parent / "docs_assets"
# Only these files, by name: never a path from the request.
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_SWAGGER_UI / "swagger-ui.css", "text/css"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript"),
}
# The site's policy (guards.SECURITY_HEADERS) with what Swagger UI needs from our own
# origin: its scripts, and fetching the document (and "Try it out" requests).
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<noscript><p>This page needs JavaScript. The API's description is at
<a href="{openapi_url}">{openapi_url}</a>.</p></noscript>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/docs")
def docs_page(request: Request) -> HTMLResponse:
    html = _PAGE.format(title=escape(request.app.title), openapi_url=OPENAPI_URL)
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/docs/{name}")
def docs_asset(name: str) -> Response:
    found = ASSETS.get(name)
    if found is None:
        return Response(status_code=404)
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


@router.get("/api/openapi.json")
def openapi_old_address(request: Request) -> JSONResponse:
    """Where the document was before /openapi.json; kept for whoever fetches it there."""
    document: dict[str, Any] = request.app.openapi()
    return JSONResponse(document)
