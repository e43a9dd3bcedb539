"""GET /ops/templates (ops password): every template rendered with sample data beside the
`templates check` findings, and each sample slip as a PDF (a missed delivery's label as ZPL).

Here rather than in notifier.web because it runs the template tooling, which sits above
the web in the layers (pyproject.toml); notifier/site.py mounts it on the app.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from notifier import paths
from notifier.config import Settings
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.overview import Overview, build_overview, inline_styles
from notifier.templatecheck.slipgallery import (
    NoSuchSlipError,
    chosen_slip,
    sample_pdf,
    sample_zpl,
)
from notifier.templatecheck.slipsources import SLIP_DOCUMENT, wording_name
from notifier.templatecheck.sources import TemplateFiles
from notifier.web.guards import SECURITY_HEADERS
from notifier.web.openapi_docs import OPS_PASSWORD, error_responses, security
from notifier.web.ops import refused_unless_ops

router = APIRouter(prefix="/ops/templates", tags=["ops"])
assets = APIRouter()

_PAGE = {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}
_PDF = {"description": "One sample slip.", "content": {"application/pdf": {}}}
_ZPL = {"description": "One sample label, ZPL II.", "content": {"text/plain": {}}}


class OverviewCache:
    """The page's data, kept per process until a template file changes.

    Building it runs the whole `templates check` and renders every template: 4 s with
    config.example.toml (3.5 s the check, 0.8 s the previews), too slow for every view.
    A file added, removed or edited (size or mtime) in the override directory or the
    shipped templates builds it again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one build at a time: two would cost twice
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._overview: Overview | None = None

    def get(self, settings: Settings) -> Overview:
        with self._lock:
            stamp = files_stamp(settings)
            if self._overview is None or stamp != self._stamp:
                self._overview, self._stamp = build_overview(settings), stamp
            return self._overview


def files_stamp(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every template file the environment may read."""
    roots = [paths.templates_dir()]
    if settings.templates.override_dir is not None:
        roots.insert(0, settings.templates.override_dir)
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else ():
            if path.is_file():
                info = path.stat()
                found.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(found)


def page_policy(overview: Overview) -> str:
    """The site's policy, letting through exactly the inline styles of the emails shown.

    An iframe's srcdoc document keeps its parent's Content-Security-Policy, whose
    `style-src 'self'` would drop every style="" of an email's HTML part: the page would
    not show it as it looks. Hashes of those values ('unsafe-hashes', CSP 3 section
    6.7.2.4) allow them and nothing else; scripts stay refused, by the policy and by the
    iframe's sandbox.
    """
    styles = {style for html in overview.email_html for style in inline_styles(html)}
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    if not styles:
        return policy
    hashes = " ".join(sorted(f"'sha256-{_digest(style)}'" for style in styles))
    return policy.replace("style-src 'self'", f"style-src 'self' 'unsafe-hashes' {hashes}", 1)


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@router.get(
    "",
    summary="Every template rendered with sample data, with the check's findings (HTML page)",
    response_class=HTMLResponse,
    responses={200: _PAGE, **error_responses(401, 429, 503)},
    openapi_extra=security(OPS_PASSWORD),
)
def templates_page(request: Request) -> Response:
    """GET /ops/templates: SMS with encoding, segments and cost, emails as they look, slips."""
    settings: Settings = request.app.state.settings
    refused = refused_unless_ops(request, settings)
    if refused is not None:
        return refused
    overview = request.app.state.template_overview.get(settings)
    template = request.app.state.templates.get_template("web/ops/templates.html")
    html = template.render(lang="en", company=settings.company, o=overview)
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": page_policy(overview)}
    return HTMLResponse(html, headers=headers)


def _slip(request: Request, kind: str, locale: str, sample: str) -> Response | tuple[Any, Any]:
    settings: Settings = request.app.state.settings
    refused = refused_unless_ops(request, settings)
    if refused is not None:
        return refused
    try:
        return chosen_slip(settings, kind=kind, language=locale, sample=sample)
    except NoSuchSlipError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)


def _not_rendered(request: Request, exc: Exception, name: str) -> JSONResponse:
    """A slip an override breaks: the finding the check reports (names files, no data)."""
    files = TemplateFiles.for_settings(request.app.state.settings)
    finding = error_finding(exc, files, rendering=name, sample="preview")
    return JSONResponse({"error": f"the slip does not render: {finding}"}, status_code=500)


@router.get(
    "/slip.pdf",
    summary="One sample slip (PDF)",
    response_class=Response,
    responses={200: _PDF, **error_responses(401, 422, 429, 503)},
    openapi_extra=security(OPS_PASSWORD),
)
def slip_pdf(
    request: Request, kind: str = "missed", locale: str = "it", sample: str = "0"
) -> Response:
    """GET /ops/templates/slip.pdf?kind=missed|route|final&locale=it|en&sample=N"""
    chosen = _slip(request, kind, locale, sample)
    if isinstance(chosen, Response):
        return chosen
    slip, now = chosen
    try:
        pdf = sample_pdf(request.app.state.settings, slip, now)
    except Exception as exc:  # a broken override: say where, as the check does
        return _not_rendered(request, exc, SLIP_DOCUMENT)
    disposition = f'inline; filename="sample-{kind}-{locale}-{sample}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.get(
    "/slip.zpl",
    summary="One sample missed-delivery label (ZPL II)",
    response_class=Response,
    responses={200: _ZPL, **error_responses(401, 422, 429, 503)},
    openapi_extra=security(OPS_PASSWORD),
)
def slip_zpl(request: Request, locale: str = "it", sample: str = "0") -> Response:
    """GET /ops/templates/slip.zpl?locale=it|en&sample=N, on [slips.label_printer]'s media."""
    chosen = _slip(request, "missed", locale, sample)
    if isinstance(chosen, Response):
        return chosen
    slip, now = chosen
    try:
        zpl = sample_zpl(request.app.state.settings, slip, now)
    except Exception as exc:  # a broken override: say where, as the check does
        return _not_rendered(request, exc, wording_name(locale))
    return Response(zpl, media_type="text/plain; charset=utf-8")


@assets.get("/static/ops-templates.css", include_in_schema=False)
def stylesheet(request: Request) -> Response:
    css = request.app.state.templates.get_template("web/ops/templates.css").render()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


def install(app: FastAPI) -> None:
    app.state.template_overview = OverviewCache()
    app.include_router(router)
    app.include_router(assets)
