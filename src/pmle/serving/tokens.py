"""API tokens: bearer secrets for the server's protected routes, stored only as hashes.

A token is shown once, when created; the metadata store keeps its sha256 and a short prefix
for listings. Revoking keeps the row (so a name is never reused by accident) and stops it
from authenticating on every server within one poll interval.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import check_name, utcnow
from pmle.errors import AlreadyExists, InvalidInput, NotFound

if TYPE_CHECKING:
    from pmle.workspace import Workspace

PREFIX = "pmle_"
#: what a token may do: editors act (deploy, change splits, retry runs, take exams in the
#: console); viewers read and predict
ROLES = ("editor", "viewer")


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the secret)."""

    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    role: str = "editor"

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "role": self.role,
        }


class Tokens:
    """The API tokens of one workspace (`ws.tokens`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def create(self, name: str, *, role: str = "editor") -> str:
        """A new token named `name` with a role (`editor`: may act; `viewer`: may read and
        predict); returns the secret, which is not stored anywhere."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        check_name(name, "token name")
        if role not in ROLES:
            raise InvalidInput(f"unknown token role {role!r}", hint=f"one of: {', '.join(ROLES)}")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self._ws.engine.begin() as conn:
            if conn.execute(
                sa.select(t.api_tokens.c.id).where(t.api_tokens.c.name == name)
            ).first():
                raise AlreadyExists(f"a token named {name!r} exists", hint="pick another name")
            conn.execute(
                t.api_tokens.insert().values(
                    name=name,
                    token_hash=hash_token(secret),
                    prefix=secret[: len(PREFIX) + 4],
                    created_at=utcnow(),
                    role=role,
                )
            )
        return secret

    def revoke(self, name: str) -> None:
        """Revoke a token; NotFound if there is no token of that name."""
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            done = conn.execute(
                t.api_tokens.update()
                .where(t.api_tokens.c.name == name, t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            if done.rowcount == 0:
                raise NotFound(f"no active token named {name!r}", hint="see `pmle tokens list`")

    def list(self) -> list[TokenInfo]:
        """Every token, active or revoked, by name."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            rows = conn.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.name)).all()
        return [TokenInfo(r.name, r.prefix, r.created_at, r.revoked_at, r.role) for r in rows]

    def active_hashes(self) -> frozenset[str]:
        """Hashes of the tokens that authenticate now (what servers poll)."""
        return frozenset(self.active_roles())

    def active_roles(self) -> dict[str, str]:
        """Hash → role of the tokens that authenticate now (what servers poll)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.api_tokens.c.token_hash, t.api_tokens.c.role).where(
                    t.api_tokens.c.revoked_at.is_(None)
                )
            )
            return {h: role for h, role in rows}
