"""The console's frame in a real browser: sign-in, the theme switch that survives a reload,
the skip link, and a Vega-Lite chart rendered from the files the package ships (no network)."""

from __future__ import annotations

from typing import Any

from pmle.workspace import Workspace


def test_sign_in_theme_and_keyboard(
    ws: Workspace, console: str, page: Any, browser_sign_in: Any
) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    browser_sign_in(page, console, ws)
    assert page.locator("header .role").inner_text() == "editor"
    page.click("#theme-toggle")
    theme = page.evaluate("document.documentElement.getAttribute('data-theme')")
    assert theme in {"light", "dark"}
    page.reload()
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == theme
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert all(u.startswith(console) for u in requests), "the console fetched from elsewhere"


def test_a_chart_renders_offline(ws: Workspace, console: str, page: Any) -> None:
    """A Vega-Lite spec from `charts` is drawn by the shipped Vega bundles."""
    from pmle.server.console import charts
    from pmle.server.console.render import chart

    spec = charts.line("t", [{"x": 1, "y": 2.0}, {"x": 2, "y": 3.0}], "x", "y", threshold=2.5)
    html = str(chart(spec))
    page.goto(f"{console}/")
    page.evaluate(
        "html => document.querySelector('main').insertAdjacentHTML('beforeend', html)",
        html,
    )
    page.evaluate("window.pmleRenderCharts()")
    page.wait_for_selector("figure.chart[data-rendered] svg", timeout=15_000)
    assert page.locator("figure.chart svg path").count() >= 1
