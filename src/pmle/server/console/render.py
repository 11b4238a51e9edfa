"""Jinja2 templates (autoescaped) and the helpers every page uses."""

from __future__ import annotations

import itertools
import math
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from pmle.server.console.router import Ctx

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: the navigation bar: (path, label)
NAV = [
    ("/", "Overview"),
    ("/datasets", "Datasets"),
    ("/models", "Models"),
    ("/endpoints", "Endpoints"),
    ("/pipelines", "Pipelines"),
    ("/experiments", "Experiments"),
    ("/jobs", "Jobs"),
    ("/monitors", "Monitors"),
    ("/features", "Features"),
    ("/exam", "Exam"),
]

_chart_ids = itertools.count(1)


def chart(spec: dict[str, Any], label: str = "") -> Any:
    """A chart placeholder with its Vega-Lite spec as inert JSON (rendered by console.js)."""
    import orjson
    from markupsafe import Markup, escape

    n = next(_chart_ids)
    data = orjson.dumps(spec, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    # never end (or comment out) the script element early: as Django's json_script does
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = label or str(spec.get("title", "chart"))
    return Markup(
        f'<figure class="chart" data-spec="spec-{n}" role="img" aria-label="{escape(title)}">'
        f'<script type="application/json" id="spec-{n}">{data}</script>'
        f"<noscript>{escape(title)}: needs JavaScript</noscript></figure>"
    )


_URL_TAIL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s?#]+)[^\s]*", re.I)


def redact_urls(text: Any) -> str:
    """URLs cut to their scheme and host: a webhook's path and query often hold its secret."""
    return _URL_TAIL.sub(
        lambda m: m.group(1) + ("/…" if len(m.group(0)) > len(m.group(1)) else ""), str(text)
    )


def when(value: Any) -> str:
    """A timestamp (datetime or epoch seconds) as `2026-11-28 03:04 UTC`."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def num(value: Any, digits: int = 4) -> str:
    """A number for a table: integers with separators, floats to `digits` significant."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.{digits}g}"
    return str(value)


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


@cache
def environment() -> jinja2.Environment:
    import jinja2

    from pmle.server.console import static

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(chart=chart, nav=NAV, static_version=static.version)
    env.filters.update(when=when, num=num, duration=duration, redact_urls=redact_urls)
    return env


VENDOR = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def _with_vega(html: str) -> str:
    """A page with charts gets the Vega bundles as deferred scripts in its head, before
    console.js: the browser fetches and compiles them while it parses the page."""
    from pmle.server.console import static

    marker = '<script src="/static/console.js'
    if '<figure class="chart"' not in html or marker not in html:
        return html
    tags = "".join(
        f'<script src="/static/vendor/{name}?v={static.version("vendor/" + name)}" defer>'
        "</script>\n"
        for name in VENDOR
    )
    return html.replace(marker, tags + marker, 1)


def render(template: str, c: Ctx, **context: Any) -> str:
    """A page: the template with the request's context (session, CSRF, notice, nav)."""
    section = "/" + c.path.strip("/").split("/", 1)[0] if c.path != "/" else "/"
    html = (
        environment()
        .get_template(template)
        .render(
            c=c,
            section=section,
            notice=c.arg("notice"),
            csrf=c.csrf,
            **context,
        )
    )
    return _with_vega(html)
