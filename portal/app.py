"""The portal's web application (Starlette, served by uvicorn): German pages rendered on the
server, no script, nothing from another host.

    GET  /anmelden                    sign-in form (the access token)
    POST /anmelden                    sign in; rate-limited per client address
    POST /abmelden                    sign out
    GET  /                            the partner's sources, the upload form
    POST /hochladen                   upload (streamed, size-limited) -> screen -> findings page
    POST /hochladen/<id>/liefern      deliver a screened upload (refused after a FEHLER)
    GET  /lieferungen                 the partner's deliveries and what became of them
    GET  /lieferungen/<id>            one delivery, with its quarantined lines
    GET  /gesund                      "ok" for the reverse proxy's health check

Every form carries the session's CSRF token; a page of a partner's source or delivery answers
404 to any other partner, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from expectations.partner_words import number_de
from expectations.screening import STAGE_DE, STAGES, Report
from portal.follow import follow
from portal.partners import Partner
from portal.screening import Screener
from portal.store import DeliveryRecord, PendingUpload, PortalStore
from portal.tokens import TokenStore
from portal.upload import FILE_FIELD, UploadRefused, receive_upload
from portal.words import STATE_DE, VERDICT_DE, size_de, time_de
from sources.registry import Source
from warehouse.db import DataPaths
from warehouse.inbox_delivery import DeliveryNote, deliver_into_inbox

HERE = Path(__file__).resolve().parent
DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
SIGN_IN_LIMIT = "10/15 minutes"  # failed sign-ins per client address
SESSION_HOURS = 8
FINDINGS_SHOWN = 50  # findings listed per check on the page; the count is complete

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]  # fmt: skip


@dataclass
class PortalSettings:
    paths: DataPaths
    registry: dict[str, Source]
    partners: dict[str, Partner]
    max_upload: int = DEFAULT_MAX_UPLOAD
    secure_cookies: bool = True  # the cookie only over HTTPS (behind the TLS proxy)
    sign_in_limit: str = SIGN_IN_LIMIT
    session_secret: str | None = None  # default: <data dir>/portal/session.key

    @property
    def portal_dir(self) -> Path:
        return self.paths.root / "portal"


def session_secret(portal_dir: Path) -> str:
    """The key that signs the session cookies: $BILDUNGSMONITOR_PORTAL_SECRET, else a random
    key made once and kept in <data dir>/portal/session.key (readable by the service only)."""
    named = os.environ.get("BILDUNGSMONITOR_PORTAL_SECRET")
    if named:
        return named
    path = portal_dir / "session.key"
    portal_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


class SecurityHeaders:
    """Every answer carries the headers of SECURITY_HEADERS (and HSTS behind HTTPS)."""

    def __init__(self, app, hsts: bool) -> None:
        self.app, self.hsts = app, hsts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class Portal:
    settings: PortalSettings
    tokens: TokenStore = field(init=False)
    store: PortalStore = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TokenStore(self.settings.portal_dir)
        self.store = PortalStore(self.settings.portal_dir)
        self.store.uploads.mkdir(parents=True, exist_ok=True)
        self.store.prune()
        self.screener = Screener(self.settings.registry, self.settings.paths.published_db)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.limit = parse(self.settings.sign_in_limit)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(
            STATE_DE=STATE_DE, VERDICT_DE=VERDICT_DE, STAGE_DE=STAGE_DE, size_de=size_de,
            time_de=time_de, number_de=number_de,
        )  # fmt: skip

    # --- sessions and forms ---------------------------------------------------------------

    def csrf(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        expected = request.session.get("csrf")
        return bool(expected and sent) and hmac.compare_digest(expected, sent)

    def partner(self, request: Request) -> tuple[str, Partner] | None:
        """The signed-in partner; None (and the session cleared) if the token was revoked or
        the partner is no longer in partners.yaml."""
        partner_id, token_id = request.session.get("partner"), request.session.get("token")
        if not partner_id or not token_id:
            return None
        partner = self.settings.partners.get(partner_id)
        if partner is None or not self.tokens.active(token_id, partner_id):
            request.session.clear()
            return None
        return partner_id, partner

    def page(self, request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
        signed_in = self.partner(request)
        html = self.templates.get_template(template).render(
            csrf=self.csrf(request),
            partner=signed_in[1] if signed_in else None,
            max_upload=self.settings.max_upload,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def sign_in_page(self, request: Request, status: int, message: str | None = None):
        return self.page(request, "anmelden.html.j2", status, message=message)

    def refused(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.page(request, "hinweis.html.j2", status, message=message)

    # --- the pages ---------------------------------------------------------------------------

    async def sign_in_form(self, request: Request) -> Response:
        if self.partner(request):
            return RedirectResponse("/", status_code=303)
        return self.sign_in_page(request, 200)

    async def sign_in(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4, max_part_size=4096)
        if not self.csrf_ok(request, form.get("csrf")):
            return self.refused(request, 403, CSRF_MESSAGE)
        client = request.client.host if request.client else "unknown"
        if not self.limiter.test(self.limit, client):
            response = self.sign_in_page(request, 429, TOO_MANY_MESSAGE)
            response.headers["retry-after"] = str(self.limit.get_expiry())
            return response
        stored = await anyio.to_thread.run_sync(self.tokens.verify, str(form.get("token", "")))
        if stored is None or stored.partner not in self.settings.partners:
            self.limiter.hit(self.limit, client)
            return self.sign_in_page(request, 401, WRONG_TOKEN_MESSAGE)
        request.session.clear()  # a new session: no token of before survives the sign-in
        request.session.update(
            partner=stored.partner, token=stored.id, csrf=secrets.token_urlsafe(32)
        )
        return RedirectResponse("/", status_code=303)

    async def sign_out(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=2, max_part_size=4096)
        if not self.csrf_ok(request, form.get("csrf")):
            return self.refused(request, 403, CSRF_MESSAGE)
        request.session.clear()
        return RedirectResponse("/anmelden", status_code=303)

    def _sources(self, partner: Partner) -> list[Source]:
        return [self.settings.registry[s] for s in partner.sources if s in self.settings.registry]

    async def start(self, request: Request) -> Response:
        signed_in = self.partner(request)
        if signed_in is None:
            return self.sign_in_page(request, 401, SIGN_IN_FIRST)
        return self.page(request, "start.html.j2", sources=self._sources(signed_in[1]))

    async def upload(self, request: Request) -> Response:
        signed_in = self.partner(request)
        if signed_in is None:
            return self.sign_in_page(request, 401, SIGN_IN_FIRST)
        partner_id, partner = signed_in
        self.store.prune()  # uploads screened a day ago and never delivered

        def check(fields: dict[str, str]) -> None:
            if not self.csrf_ok(request, fields.get("csrf")):
                raise UploadRefused(403, CSRF_MESSAGE)
            if fields.get("quelle") not in partner.sources:
                raise UploadRefused(404, UNKNOWN_SOURCE_MESSAGE)

        try:
            received = await receive_upload(
                request, self.store.uploads, self.settings.max_upload, check
            )
        except UploadRefused as refused:
            return self.refused(request, refused.status, refused.message_de)
        source = self.settings.registry[received.fields["quelle"]]
        shown_name = _shown_name(received.original_name)
        report = await self.screener.screen(received.path, shown_name, source, received.sha256)
        pending = PendingUpload(
            upload_id=received.upload_id,
            partner=partner_id,
            source_id=source.id,
            original_name=received.original_name,
            size=received.size,
            sha256=received.sha256,
            uploaded_at=_now(),
            verdict=report.verdict,
        )
        self.store.save_pending(pending)
        return self.page(request, "befund.html.j2", **_findings(report, pending, source))

    async def deliver(self, request: Request) -> Response:
        signed_in = self.partner(request)
        if signed_in is None:
            return self.sign_in_page(request, 401, SIGN_IN_FIRST)
        partner_id, partner = signed_in
        form = await request.form(max_files=0, max_fields=2, max_part_size=4096)
        if not self.csrf_ok(request, form.get("csrf")):
            return self.refused(request, 403, CSRF_MESSAGE)
        upload_id = request.path_params["upload_id"]
        pending = self.store.pending(upload_id)
        if pending is None and any(
            r.upload_id == upload_id for r in self.store.deliveries(partner_id)
        ):  # delivered already (a second click): its page
            return RedirectResponse(f"/lieferungen/{upload_id}", status_code=303)
        if pending is None or pending.partner != partner_id:
            return self.refused(request, 404, UNKNOWN_UPLOAD_MESSAGE)
        if pending.verdict == "FAIL" or pending.source_id not in partner.sources:
            return self.refused(request, 409, FAILED_MESSAGE)
        if not self.store.claim(pending.upload_id):  # delivered by a click a moment ago
            return RedirectResponse(f"/lieferungen/{pending.upload_id}", status_code=303)
        note = DeliveryNote(
            delivered_by=partner_id,
            delivered_by_name=partner.name,
            delivered_at=_now(),
            original_name=pending.original_name,
            upload_id=pending.upload_id,
            sha256=pending.sha256,
        )
        staged = self.store.upload_path(pending.upload_id)
        try:
            placed = await anyio.to_thread.run_sync(
                deliver_into_inbox, self.settings.paths, pending.source_id, staged, note
            )
        except BaseException:
            self.store.save_pending(pending)  # not delivered: it can be tried again
            raise
        self.store.record(
            DeliveryRecord(
                upload_id=pending.upload_id,
                partner=partner_id,
                source_id=pending.source_id,
                original_name=pending.original_name,
                stored_name=placed.name,
                size=pending.size,
                sha256=pending.sha256,
                delivered_at=note.delivered_at,
                verdict=pending.verdict,
            )
        )
        self.store.drop(pending.upload_id)
        return RedirectResponse(f"/lieferungen/{pending.upload_id}?geliefert=1", status_code=303)

    async def deliveries(self, request: Request) -> Response:
        signed_in = self.partner(request)
        if signed_in is None:
            return self.sign_in_page(request, 401, SIGN_IN_FIRST)
        records = self.store.deliveries(signed_in[0])
        states = await anyio.to_thread.run_sync(follow, self.settings.paths, records)
        return self.page(
            request, "lieferungen.html.j2", states=states, titles=self._titles(signed_in[1])
        )

    async def delivery(self, request: Request) -> Response:
        signed_in = self.partner(request)
        if signed_in is None:
            return self.sign_in_page(request, 401, SIGN_IN_FIRST)
        wanted = request.path_params["upload_id"]
        records = [r for r in self.store.deliveries(signed_in[0]) if r.upload_id == wanted]
        if not records:
            return self.refused(request, 404, UNKNOWN_UPLOAD_MESSAGE)
        (state,) = await anyio.to_thread.run_sync(follow, self.settings.paths, records)
        return self.page(
            request,
            "lieferung.html.j2",
            state=state,
            titles=self._titles(signed_in[1]),
            just_delivered=request.query_params.get("geliefert") == "1",
        )

    def _titles(self, partner: Partner) -> dict[str, str]:
        return {s.id: s.title for s in self._sources(partner)}

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.refused(request, 404, "Diese Seite gibt es nicht.")

    async def not_allowed(self, request: Request, exc: Exception) -> Response:
        return self.refused(request, 405, "Diese Seite lässt sich so nicht aufrufen.")


SIGN_IN_FIRST = "Bitte melden Sie sich mit Ihrem Zugangsschlüssel an."
WRONG_TOKEN_MESSAGE = (
    "Der Zugangsschlüssel ist nicht gültig oder wurde widerrufen. Bitte prüfen Sie ihn; einen "
    "neuen erhalten Sie von der Geschäftsstelle."
)
TOO_MANY_MESSAGE = (
    "Zu viele fehlgeschlagene Anmeldeversuche. Bitte versuchen Sie es in 15 Minuten erneut."
)
CSRF_MESSAGE = (
    "Das Formular ist abgelaufen oder stammt nicht von dieser Seite. Bitte laden Sie die Seite "
    "neu und senden Sie es noch einmal."
)
UNKNOWN_SOURCE_MESSAGE = "Diese Quelle gibt es nicht, oder Sie liefern sie nicht."
UNKNOWN_UPLOAD_MESSAGE = "Diese Lieferung gibt es nicht."
FAILED_MESSAGE = (
    "Diese Datei hat Fehler (FEHLER im Prüfbericht) und kann so nicht geliefert werden. Bitte "
    "korrigieren Sie sie und laden Sie sie erneut hoch."
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _shown_name(original: str) -> str:
    """The name the findings page and the screener use: the last part of what the browser
    sent (never a path)."""
    return original.replace("\\", "/").rsplit("/", 1)[-1] or "lieferung.csv"


def _findings(report: Report, pending: PendingUpload, source: Source) -> dict:
    stages = []
    for number, stage in enumerate(STAGES, start=1):
        checks = [c for c in report.checks if c.stage == stage]
        skipped = bool(report.stopped_at and STAGES.index(stage) > STAGES.index(report.stopped_at))
        stages.append({"number": number, "stage": stage, "checks": checks, "skipped": skipped})
    return {
        "report": report,
        "pending": pending,
        "source": source,
        "stages": stages,
        "shown": FINDINGS_SHOWN,
        "file_field": FILE_FIELD,
    }


def build_app(settings: PortalSettings) -> Starlette:
    portal = Portal(settings)
    routes = [
        Route("/", portal.start),
        Route("/anmelden", portal.sign_in_form, methods=["GET"]),
        Route("/anmelden", portal.sign_in, methods=["POST"]),
        Route("/abmelden", portal.sign_out, methods=["POST"]),
        Route("/hochladen", portal.upload, methods=["POST"]),
        Route("/hochladen/{upload_id}/liefern", portal.deliver, methods=["POST"]),
        Route("/lieferungen", portal.deliveries),
        Route("/lieferungen/{upload_id}", portal.delivery),
        Route("/gesund", portal.health),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders, hsts=settings.secure_cookies),
        Middleware(
            SessionMiddleware,
            secret_key=settings.session_secret or session_secret(settings.portal_dir),
            session_cookie="bm_portal",
            max_age=SESSION_HOURS * 3600,
            # lax: the link in a partner's letter finds the session; the forms' CSRF tokens
            # (and lax itself, for POST) keep other sites' requests out
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: portal.not_found, 405: portal.not_allowed},
    )
    app.state.portal = portal
    return app
