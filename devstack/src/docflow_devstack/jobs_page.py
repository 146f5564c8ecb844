"""The jobs page the local gateway serves at ``/``: one HTML file, a script and a stylesheet.

The page is static; its script polls ``GET /jobs`` on the same gateway and renders the jobs.
Only the files listed here are served (no path is ever joined to a directory), and a strict
Content-Security-Policy lets the page run its own script and nothing injected into it.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

# Served path -> (file in the jobs_page directory, content type).
FILES = {
    "/": ("index.html", "text/html"),
    "/assets/jobs.js": ("jobs.js", "text/javascript"),
    "/assets/jobs.css": ("jobs.css", "text/css"),
}

HEADERS = {
    # blob: the pages' pictures, fetched with the API token and shown from memory.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # an edited page shows on reload, without a restart
}


def page_response(path: str) -> web.Response | None:
    """The page or one of its assets for ``GET path``; None when ``path`` is not one of them."""
    if path not in FILES:
        return None
    name, content_type = FILES[path]
    text = (resources.files(__package__) / "jobs_page" / name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type=content_type, charset="utf-8", headers=HEADERS)
