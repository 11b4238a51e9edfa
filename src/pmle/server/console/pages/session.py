"""Signing in and out of the console with an API token."""

from __future__ import annotations

import hashlib

from pmle.server.console.router import COOKIE, Ctx, Reply, action, page, redirect


def _safe_next(value: str) -> str:
    """Only a local path (never another site) after signing in."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@page("/login", public=True)
def login(c: Ctx) -> Reply:
    return c.render("login.html", next=_safe_next(c.arg("next", "/")), failed=False)


@action("/login", public=True)
def sign_in(c: Ctx) -> Reply:
    secret = c.field("token").strip()
    target = _safe_next(c.field("next", "/"))
    if not secret or hashlib.sha256(secret.encode()).hexdigest() not in c.app.state.token_roles:
        c.secret, c.role = None, None
        return c.render("login.html", status=401, next=target, failed=True)
    reply = redirect(target, "Signed in.")
    reply.headers.append(
        (
            b"set-cookie",
            f"{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000".encode(),
        )
    )
    return reply


@action("/logout", viewer_ok=True)
def sign_out(c: Ctx) -> Reply:
    reply = redirect("/", "Signed out.")
    reply.headers.append((b"set-cookie", f"{COOKIE}=; Path=/; HttpOnly; Max-Age=0".encode()))
    return reply
