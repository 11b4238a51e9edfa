"""Alert delivery to a real webhook on loopback, a log file and an SMTP conversation."""

from __future__ import annotations

import json
import socketserver
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pmle.errors import InvalidInput
from pmle.monitoring.alerts import Alert, EmailSink, LogFileSink, WebhookSink, deliver

ALERTS = [
    Alert("churn-skew", "skew", "tenure", "jensen_shannon_divergence", 0.41, 0.3),
    Alert("churn-skew", "skew", "contract", "l_infinity", 0.35, 0.3),
]


def test_webhook_and_log_file(webhook: tuple[str, list[Any]], tmp_path: Path) -> None:
    url, received = webhook
    log = tmp_path / "alerts.jsonl"
    results = deliver(ALERTS, [WebhookSink(url), LogFileSink(log)])
    assert [r.ok for r in results] == [True, True]
    ctype, body = received[0]
    assert ctype == "application/json"
    assert [a["feature"] for a in body["alerts"]] == ["tenure", "contract"]
    first = body["alerts"][0]
    assert first["metric"] == "jensen_shannon_divergence" and first["threshold"] == 0.3
    assert "tenure" in first["message"] and "0.4100" in first["message"]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["value"] for x in lines] == [0.41, 0.35]


def test_a_dead_sink_does_not_stop_the_others(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"  # nothing listens once closed
    results = deliver(ALERTS, [WebhookSink(dead, timeout_s=2), LogFileSink(tmp_path / "a.log")])
    assert results[0].ok is False and "refused" in results[0].error.lower()
    assert results[1].ok is True
    assert deliver([], [WebhookSink(dead)]) == []
    with pytest.raises(InvalidInput, match="http://"):
        WebhookSink("ftp://example")


class _SMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message."""

    messages: ClassVar[list[str]] = []

    def handle(self) -> None:
        self.wfile.write(b"220 test\r\n")
        data: list[str] = []
        in_data = False
        for raw in self.rfile:
            line = raw.decode()
            if in_data:
                if line == ".\r\n":
                    in_data = False
                    _SMTP.messages.append("".join(data))
                    self.wfile.write(b"250 ok\r\n")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb == "EHLO" or verb == "HELO":
                self.wfile.write(b"250 test\r\n")
            elif verb == "DATA":
                in_data = True
                self.wfile.write(b"354 go\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_email_over_smtp() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = EmailSink(
            "127.0.0.1", "pmle@localhost", ["ops@localhost"], port=server.server_address[1]
        )
        assert deliver(ALERTS, [sink])[0].ok
    finally:
        server.shutdown()
        server.server_close()
    message = _SMTP.messages[-1]
    assert "Subject: pmle: 2 monitoring alert(s)" in message
    assert "contract l_infinity 0.3500" in message
