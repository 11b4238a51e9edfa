"""The console's frame: pages, sign-in with tokens and roles, CSRF, same-origin, errors, static
files with their security headers — over a real server on loopback."""

from __future__ import annotations

from typing import Any

import httpx

from pmle.workspace import Workspace


def test_overview_renders_the_workspace(ws: Workspace, console: str) -> None:
    r = httpx.get(f"{console}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<h1>Workspace</h1>" in r.text and str(ws.root) in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert 'href="/login?next=/"' in r.text  # not signed in


def test_api_routes_still_answer_json(console: str) -> None:
    r = httpx.get(f"{console}/v2/models/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    r = httpx.get(f"{console}/no/such/page")
    assert r.status_code == 404 and r.json() == {"error": "no route for /no/such/page"}


def test_static_files_are_served_with_etags(console: str) -> None:
    r = httpx.get(f"{console}/static/console.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    again = httpx.get(f"{console}/static/console.css", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
    vega = httpx.get(f"{console}/static/vendor/vega-lite.min.js")
    assert vega.status_code == 200 and b"vegaLite" in vega.content[:400]
    assert httpx.get(f"{console}/static/../router.py").status_code == 404
    assert httpx.get(f"{console}/static/vendor/nothing.js").status_code == 404


def test_sign_in_with_a_token_and_out(
    ws: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    with httpx.Client() as client:
        r = client.post(f"{console}/login", data={"token": "pmle_wrong", "next": "/"})
        assert r.status_code == 401 and "unknown or revoked" in r.text
        sign_in(client, console, ws)
        home = client.get(f"{console}/")
        assert "Sign out" in home.text and ">editor<" in home.text
        csrf = csrf_of(home.text)
        r = client.post(f"{console}/logout", data={"csrf": csrf})
        assert r.status_code == 303
        assert "Sign out" not in client.get(f"{console}/").text


def test_sign_in_goes_only_to_local_pages(ws: Workspace, console: str) -> None:
    secret = ws.tokens.create("nav")
    import time

    time.sleep(0.3)
    r = httpx.post(f"{console}/login", data={"token": secret, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/?")
    r = httpx.post(f"{console}/login", data={"token": secret, "next": "/models"})
    assert r.headers["location"].startswith("/models?")


def test_actions_need_an_editor_csrf_and_the_same_origin(
    ws: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    with httpx.Client() as client:
        # not signed in: sent to the sign-in page
        r = client.post(f"{console}/logout", data={})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        sign_in(client, console, ws, role="editor")
        csrf = csrf_of(client.get(f"{console}/").text)
        # a forged or missing CSRF token
        r = client.post(f"{console}/logout", data={"csrf": "0" * 40})
        assert r.status_code == 403 and "CSRF" in r.text
        # another site's form
        r = client.post(
            f"{console}/logout", data={"csrf": csrf}, headers={"origin": "http://evil.example"}
        )
        assert r.status_code == 403 and "another site" in r.text
        assert client.post(f"{console}/logout", data={"csrf": csrf}).status_code == 303


def test_a_revoked_token_signs_out_everywhere(
    ws: Workspace, console: str, sign_in: Any, csrf_of: Any
) -> None:
    import time

    with httpx.Client() as client:
        sign_in(client, console, ws)
        name = ws.tokens.list()[0].name
        assert "Sign out" in client.get(f"{console}/").text
        ws.tokens.revoke(name)
        time.sleep(0.3)
        assert "Sign out" not in client.get(f"{console}/").text


def test_require_token_hides_every_page_but_sign_in(
    ws: Workspace, run_app: Any, sign_in: Any
) -> None:
    from pmle.server.app import PmleApp

    with run_app(PmleApp(ws, require_token=True, poll_s=0.1)) as url:
        r = httpx.get(f"{url}/?x=1")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%3Fx%3D1"
        assert httpx.get(f"{url}/login").status_code == 200
        assert httpx.get(f"{url}/static/console.css").status_code == 200
        with httpx.Client() as client:
            sign_in(client, url, ws, role="viewer")
            assert client.get(f"{url}/").status_code == 200


def test_a_wrong_method_is_405(console: str) -> None:
    r = httpx.post(f"{console}/", data={})
    assert r.status_code == 405


def test_sign_in_never_leaves_the_site(ws: Workspace, console: str) -> None:
    import time

    secret = ws.tokens.create("nav2")
    time.sleep(0.3)
    for target in ["/\t/evil.example", "/\\evil.example", "https://evil.example/", "//x", "x"]:
        r = httpx.post(f"{console}/login", data={"token": secret, "next": target})
        assert r.status_code == 303 and r.headers["location"].startswith("/?"), target
    page = httpx.get(f"{console}/login?next=/%09/evil.example")
    assert 'name="next" value="/"' in page.text


def test_the_cookie_is_secure_behind_https(ws: Workspace, console: str) -> None:
    import time

    secret = ws.tokens.create("tls")
    time.sleep(0.3)
    plain = httpx.post(f"{console}/login", data={"token": secret})
    assert "Secure" not in plain.headers["set-cookie"]
    assert "HttpOnly" in plain.headers["set-cookie"]
    tls = httpx.post(
        f"{console}/login", data={"token": secret}, headers={"x-forwarded-proto": "https"}
    )
    assert "; Secure" in tls.headers["set-cookie"]


def test_ids_too_long_for_the_database_are_not_found(console: str) -> None:
    for path in ["/pipelines/runs/", "/experiments/runs/", "/jobs/", "/exam/attempts/"]:
        r = httpx.get(f"{console}{path}{'9' * 30}")
        assert r.status_code == 404, path


def test_chart_data_cannot_end_its_script_element() -> None:
    import json
    import re

    from pmle.server.console import charts
    from pmle.server.console.render import chart

    evil = "<!--<script></script>&"
    html = str(chart(charts.bars("t", [{"k": evil, "v": 1}], "k", "v")))
    body = re.fullmatch(r'.*<script type="application/json" id="spec-\d+">(.*?)</script>.*', html)
    assert body is not None and "<" not in body.group(1) and "&" not in body.group(1)
    assert json.loads(body.group(1))["data"]["values"][0]["k"] == evil


def test_urls_are_cut_to_their_host() -> None:
    from pmle.server.console.render import redact_urls

    assert redact_urls("webhook https://hooks.example/T0/B0/secret?k=1") == (
        "webhook https://hooks.example/…"
    )
    assert redact_urls("log /var/log/a.jsonl") == "log /var/log/a.jsonl"
