"""The one exception tree of pmle.

Every error a user can cause is a :class:`PmleError` with an HTTP status and a message that says
what to do next. Third-party exceptions are translated at the boundary where they are raised.
"""

from __future__ import annotations


class PmleError(Exception):
    """Base of every error pmle raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} — {hint}")

    def to_dict(self) -> dict[str, object]:
        """The error as a JSON-able mapping (the REST API's error body)."""
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class InvalidInput(PmleError):
    """The caller gave a value pmle cannot use (bad name, malformed file, wrong type)."""

    status = 400
    code = "invalid_input"


class NotFound(PmleError):
    """A named resource (dataset, model, alias, file) does not exist."""

    status = 404
    code = "not_found"


class WorkspaceNotFound(NotFound):
    """No pmle workspace in this folder or any folder above it."""

    code = "workspace_not_found"


class AlreadyExists(PmleError):
    """Creating a resource whose name is taken."""

    status = 409
    code = "already_exists"


class Conflict(PmleError):
    """The request contradicts the current state (e.g. deleting the version holding `default`)."""

    status = 409
    code = "conflict"


class StoreUnavailable(PmleError):
    """A store (metadata database, warehouse) could not be reached or stayed locked too long."""

    status = 503
    code = "store_unavailable"


class Unauthenticated(PmleError):
    """A protected route was called without a valid bearer token."""

    status = 401
    code = "unauthenticated"


class ServerUnavailable(PmleError):
    """A pmle server could not be reached."""

    status = 503
    code = "server_unavailable"


class IntegrityError(PmleError):
    """Stored content does not match its recorded hash, or the stores disagree."""

    status = 500
    code = "integrity"


__all__ = [
    "AlreadyExists",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "PmleError",
    "ServerUnavailable",
    "StoreUnavailable",
    "Unauthenticated",
    "WorkspaceNotFound",
]
