"""The web console: server-rendered pages over the Python API, served by `pmle serve` at `/`.

- `router`: routes (`@page` for reads, `@action` for POSTs that change something), the sign-in
  with an API token (cookie), CSRF checks, HTML error pages; handlers run off the event loop;
- `render`: Jinja2 templates (autoescaped) with the page frame; `charts`: Vega-Lite specs
  rendered in the browser by the Vega files shipped in `static/vendor` (no CDN);
- `pages/`: one module per platform area and the exam.

Reading needs no token unless the server runs with `require_token`; every action needs a
signed-in token whose role is `editor`, a CSRF token from the page, and a same-origin request.
"""

from pmle.server.console.router import handle

__all__ = ["handle"]
