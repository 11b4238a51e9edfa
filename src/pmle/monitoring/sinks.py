"""Where a monitor's alerts go: sink specs as stored (checked when a monitor is created or
updated) and the alert sinks built from them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.monitoring.alerts import Sink
    from pmle.workspace import Workspace

SINK_TYPES = ("webhook", "log", "email")


def check_sink(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A sink as stored: {"type": "webhook", "url"} | {"type": "log", "path"} |
    {"type": "email", "to": [...], "host"?, "port"?, "sender"?}."""
    if not isinstance(spec, Mapping) or spec.get("type") not in SINK_TYPES:
        raise InvalidInput(
            f"an alert sink needs a type in {', '.join(SINK_TYPES)}, got {dict(spec)!r}"
            if isinstance(spec, Mapping)
            else "an alert sink is a mapping"
        )
    kind = spec["type"]
    if kind == "webhook":
        from pmle.monitoring.alerts import WebhookSink

        WebhookSink(str(spec.get("url", "")))  # checks the URL
        return {"type": kind, "url": str(spec["url"])}
    if kind == "log":
        if not spec.get("path"):
            raise InvalidInput("a log sink needs a path")
        return {"type": kind, "path": str(Path(str(spec["path"])).expanduser().resolve())}
    to = spec.get("to")
    recipients = [to] if isinstance(to, str) else list(to or [])
    if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise InvalidInput("an e-mail sink needs recipient address(es) in 'to'")
    host = spec.get("host") or os.environ.get("PMLE_SMTP_HOST")
    if not host:
        raise InvalidInput(
            "e-mail alerts need an SMTP server",
            hint="set PMLE_SMTP_HOST (and PMLE_SMTP_PORT, PMLE_SMTP_SENDER) or give host=",
        )
    port = spec.get("port")
    if port is not None and (
        isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536
    ):
        raise InvalidInput(f"the SMTP port must be 1..65535, got {port!r}")
    out: dict[str, Any] = {"type": kind, "to": recipients, "host": str(host)}
    for key in ("port", "sender", "starttls", "username"):
        if spec.get(key) is not None:
            out[key] = spec[key]
    return out


def build_sink(spec: Mapping[str, Any], ws: Workspace) -> Sink:
    from pmle.monitoring.alerts import EmailSink, LogFileSink, WebhookSink

    if spec["type"] == "webhook":
        return WebhookSink(spec["url"])
    if spec["type"] == "log":
        return LogFileSink(Path(spec["path"]))
    return EmailSink(
        host=spec["host"],
        port=int(spec.get("port") or os.environ.get("PMLE_SMTP_PORT") or 25),
        sender=str(spec.get("sender") or os.environ.get("PMLE_SMTP_SENDER") or "pmle@localhost"),
        recipients=list(spec["to"]),
        starttls=bool(spec.get("starttls", False)),
        username=spec.get("username"),
        password=os.environ.get("PMLE_SMTP_PASSWORD"),
    )


def sink_summary(spec: Mapping[str, Any]) -> str:
    if spec["type"] == "webhook":
        return f"webhook {spec['url']}"
    if spec["type"] == "log":
        return f"log {spec['path']}"
    return f"email {', '.join(spec['to'])}"
