"""Alerts and where they go: a webhook (HTTP POST of JSON), a log file (JSON lines), e-mail
(SMTP, when configured). An alert names the feature, the metric, the value and the threshold.

Delivery never raises into the monitor run: each sink's outcome is returned, so a run records
which alerts reached which sink and a dead webhook does not lose the run's results.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pmle._util import utcnow
from pmle.errors import InvalidInput


@dataclass(frozen=True)
class Alert:
    """One threshold crossing."""

    monitor: str
    objective: str  # skew | drift | attribution_skew | attribution_drift | performance
    feature: str
    metric: str
    value: float
    threshold: float
    at: datetime = field(default_factory=utcnow)
    #: "above": the value reached the threshold (distances, losses); "below": it fell under
    #: it (accuracy, AUC).
    direction: str = "above"

    @property
    def message(self) -> str:
        """One line for people."""
        sign = "≥" if self.direction == "above" else "<"
        return (
            f"[{self.monitor}] {self.objective}: {self.feature} {self.metric} "
            f"{self.value:.4f} {sign} threshold {self.threshold:.4g}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what sinks send)."""
        return {
            "monitor": self.monitor,
            "objective": self.objective,
            "feature": self.feature,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "direction": self.direction,
            "at": self.at.isoformat(),
            "message": self.message,
        }


@dataclass(frozen=True)
class Delivery:
    """What happened when alerts were sent to one sink."""

    sink: str
    ok: bool
    error: str = ""


class Sink(Protocol):
    """Somewhere alerts go."""

    name: str

    def send(self, alerts: list[Alert]) -> None:
        """Deliver the alerts; raise on failure."""
        ...


@dataclass
class WebhookSink:
    """POSTs `{"alerts": [...]}` as JSON to a URL (http or https)."""

    url: str
    timeout_s: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)
    name: str = "webhook"

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInput(f"webhook URL must start with http:// or https://, got {self.url!r}")

    def send(self, alerts: list[Alert]) -> None:
        import urllib.request

        body = json.dumps({"alerts": [a.to_dict() for a in alerts]}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        for k, v in self.headers.items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            if not 200 <= resp.status < 300:
                raise OSError(f"webhook answered {resp.status}")


@dataclass
class LogFileSink:
    """Appends one JSON line per alert to a file."""

    path: Path
    name: str = "log"

    def send(self, alerts: list[Alert]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            for a in alerts:
                fh.write(json.dumps(a.to_dict()) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class EmailSink:
    """Sends one e-mail listing the alerts through an SMTP server."""

    host: str
    sender: str
    recipients: list[str]
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    name: str = "email"

    def send(self, alerts: list[Alert]) -> None:
        import smtplib
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["Subject"] = f"pmle: {len(alerts)} monitoring alert(s)"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg.set_content("\n".join(a.message for a in alerts) + "\n")
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


def deliver(alerts: list[Alert], sinks: list[Sink]) -> list[Delivery]:
    """Send the alerts to every sink; failures are reported, not raised."""
    if not alerts:
        return []
    out = []
    for sink in sinks:
        try:
            sink.send(alerts)
            out.append(Delivery(sink.name, True))
        except Exception as exc:  # a sink's failure must not stop the others
            out.append(Delivery(sink.name, False, f"{exc.__class__.__name__}: {exc}"))
    return out
