"""Signing in and out of the console with an API token."""

from __future__ import annotations

import hashlib

from pmle.server.console.router import COOKIE, Ctx, Reply, action, page, redirect, safe_next

MAX_AGE = 30 * 86_400  # a session lasts 30 days, or until the token is revoked


@page("/login", public=True)
def login(c: Ctx) -> Reply:
    return c.render("login.html", next=safe_next(c.arg("next", "/")), failed=False)


@action("/login", public=True)
def sign_in(c: Ctx) -> Reply:
    secret = c.field("token").strip()
    target = safe_next(c.field("next", "/"))
    if not secret or hashlib.sha256(secret.encode()).hexdigest() not in c.app.state.token_roles:
        c.secret, c.role = None, None
        return c.render("login.html", status=401, next=target, failed=True)
    reply = redirect(target, "Signed in.")
    secure = "; Secure" if _https(c) else ""
    cookie = f"{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE}{secure}"
    reply.headers.append((b"set-cookie", cookie.encode()))
    return reply


def _https(c: Ctx) -> bool:
    """Served over HTTPS (directly, or behind a proxy that says so)."""
    forwarded = c.req.headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().lower()
    return c.req.scheme == "https" or forwarded == b"https"


@action("/logout", viewer_ok=True)
def sign_out(c: Ctx) -> Reply:
    reply = redirect("/", "Signed out.")
    reply.headers.append(
        (b"set-cookie", f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0".encode())
    )
    return reply
