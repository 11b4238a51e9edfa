"""Console routing: `@page` (GET) and `@action` (POST) handlers, sessions, CSRF, errors.

A session is the cookie `pmle_console` holding an API token's secret (HttpOnly, SameSite=Strict);
each request looks its hash up in the server's polled token table, so a revoked token stops
working within a poll on every worker. The CSRF token is an HMAC of the secret: nothing is
kept on the server, and another site can neither read nor forge it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from pmle.errors import PmleError
from pmle.server.app import Raw

if TYPE_CHECKING:
    from pmle.server.app import PmleApp, Request
    from pmle.workspace import Workspace

log = logging.getLogger("pmle.server.console")

COOKIE = "pmle_console"
#: an id in a route: at most 18 digits, so it always fits a 64-bit integer (longer is a 404)
ID = r"\d{1,18}"
PAGE_MODULES = (
    "overview",
    "session",
    "datasets",
    "models",
    "endpoints",
    "pipelines",
    "experiments",
    "jobs",
    "monitors",
    "features",
    "exam",
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        # Vega compiles chart expressions with Function(): 'unsafe-eval', scripts from here only
        b"default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        b"form-action 'self'",
    ),
]


class Reply(Raw):
    """What a handler answers: a status, a body and its type, extra headers (the security
    headers are added to every reply)."""

    __slots__ = ()

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = b"text/html; charset=utf-8",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(status, body, content_type, [*(headers or []), *SECURITY_HEADERS])


def redirect(url: str, notice: str | None = None, *, status: int = 303) -> Reply:
    """A redirect (303 after a POST), with an optional one-line notice for the next page."""
    if notice:
        url += ("&" if "?" in url else "?") + urlencode({"notice": notice})
    return Reply(status, b"", headers=[(b"location", url.encode())])


class Ctx:
    """One console request: the app, the workspace, the parsed query and form, the session."""

    def __init__(self, app: PmleApp, req: Request) -> None:
        self.app = app
        self.ws: Workspace = app.ws
        self.req = req
        self.path = req.path
        self.query: dict[str, str] = {
            k: v[-1] for k, v in parse_qs(req.query.decode("latin-1")).items()
        }
        self.secret = _cookie(req, COOKIE)
        self.role: str | None = None
        self.token_name: str | None = None
        if self.secret:
            digest = hashlib.sha256(self.secret.encode()).hexdigest()
            self.role = app.state.token_roles.get(digest)
        self._form: dict[str, list[str]] | None = None

    @property
    def signed_in(self) -> bool:
        return self.role is not None

    @property
    def can_act(self) -> bool:
        return self.role == "editor"

    @property
    def csrf(self) -> str:
        """The CSRF token forms carry ('' when not signed in: no action can pass then)."""
        return csrf_token(self.secret) if self.secret and self.role else ""

    @property
    def form(self) -> dict[str, list[str]]:
        if self._form is None:
            self._form = parse_qs(self.req.body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    def field(self, name: str, default: str = "") -> str:
        """One form field's (last) value."""
        values = self.form.get(name)
        return values[-1] if values else default

    def arg(self, name: str, default: str = "") -> str:
        """One query parameter."""
        return self.query.get(name, default)

    def int_arg(self, name: str, default: int, *, lo: int = 0, hi: int = 1_000_000) -> int:
        try:
            return max(lo, min(hi, int(self.query.get(name, default))))
        except ValueError:
            return default

    def render(self, template: str, status: int = 200, **context: Any) -> Reply:
        from pmle.server.console.render import render

        return Reply(status, render(template, self, **context).encode())


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"pmle-console-csrf", hashlib.sha256).hexdigest()[:40]


def _cookie(req: Request, name: str) -> str | None:
    raw = req.headers.get(b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool  # reachable without a session when the server requires tokens
    viewer_ok: bool = False  # an action any signed-in token may take (signing out)


ROUTES: list[Route] = []


def page(pattern: str, *, public: bool = False) -> Callable[[Handler], Handler]:
    """A GET page at `pattern` (a regex of the whole path; named groups become arguments)."""

    def register(fn: Handler) -> Handler:
        ROUTES.append(Route("GET", re.compile(f"^{pattern}$"), fn, public))
        return fn

    return register


def action(
    pattern: str, *, public: bool = False, viewer_ok: bool = False
) -> Callable[[Handler], Handler]:
    """A POST action at `pattern`: needs an editor's session (any session with `viewer_ok`)
    and the page's CSRF token; `public` actions (signing in) need neither, but still a
    same-origin request."""

    def register(fn: Handler) -> Handler:
        ROUTES.append(Route("POST", re.compile(f"^{pattern}$"), fn, public, viewer_ok))
        return fn

    return register


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in PAGE_MODULES:
            importlib.import_module(f"pmle.server.console.pages.{name}")
        _loaded = True


def _find(method: str, path: str) -> tuple[Route, dict[str, str]] | Literal[False] | None:
    """The route and its arguments; False when the path exists for another method."""
    other = False
    for route in ROUTES:
        m = route.pattern.match(path)
        if m is not None:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict()
            other = True
    return False if other else None


def _same_origin(req: Request) -> bool:
    origin = req.headers.get(b"origin") or req.headers.get(b"referer")
    if not origin:
        return True  # old clients; the SameSite=Strict cookie still holds
    host = req.headers.get(b"host", b"").decode("latin-1")
    return urlsplit(origin.decode("latin-1")).netloc == host


async def handle(app: PmleApp, req: Request) -> Reply | None:
    """The console's answer to a request, or None when the path is not the console's."""
    from pmle.server.console import static

    if req.path.startswith("/static/"):
        return static.serve(req)
    _load()
    found = _find(req.method, req.path)
    if found is None:
        return None
    c = Ctx(app, req)
    if found is False:
        return _error(c, 405, "This page does not take that method.")
    route, args = found
    if app.require_token and not c.signed_in and not route.public:
        return redirect("/login?" + urlencode({"next": _here(req)}), status=303)
    if route.method == "POST":
        if not _same_origin(req):
            return _error(c, 403, "Refused: the form was sent from another site.")
        if not route.public:
            if not c.signed_in:
                return redirect(
                    "/login?" + urlencode({"next": _referer_path(req)}),
                    "Sign in with an editor's token to do that.",
                )
            if not c.can_act and not route.viewer_ok:
                return _error(c, 403, "Your token is a viewer's: acting needs an editor's token.")
            if not c.secret or not hmac.compare_digest(c.field("csrf"), csrf_token(c.secret)):
                return _error(c, 403, "Refused: the form's CSRF token is missing or stale.")
    loop = asyncio.get_running_loop()
    try:
        reply: Reply = await loop.run_in_executor(None, lambda: route.handler(c, **args))
    except PmleError as exc:
        if route.method == "POST":  # show what went wrong on the page the form came from
            return redirect(_referer_path(req) or "/", f"Error: {exc}")
        return _error(c, exc.status, str(exc))
    except Exception:  # a bug: an HTML page, the details in the server's log only
        log.exception("console error on %s %s", req.method, req.path)
        return _error(c, 500, "Internal error: the server's log has the details.")
    return reply


def is_id(text: str) -> bool:
    """Digits that fit a 64-bit id (what `ID` matches)."""
    return text.isdigit() and len(text) <= 18


def safe_next(value: str) -> str:
    """`value` when it is a path on this site, else `/` (never another site, whatever the
    browser makes of control characters, backslashes or a scheme-relative URL)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _here(req: Request) -> str:
    return req.path + (f"?{req.query.decode('latin-1')}" if req.query else "")


def _referer_path(req: Request) -> str:
    ref = req.headers.get(b"referer")
    if not ref:
        return "/"
    parts = urlsplit(ref.decode("latin-1"))
    path = quote(parts.path or "/", safe="/@:-_.~") + (f"?{parts.query}" if parts.query else "")
    return safe_next(path)


def _error(c: Ctx, status: int, message: str) -> Reply:
    from pmle.server.console.render import render

    try:
        body = render("error.html", c, status=status, message=message)
    except Exception:  # the error page must not fail itself
        body = f"<!doctype html><title>{status}</title><p>{status}</p>"
    return Reply(status, body.encode())
