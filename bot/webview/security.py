"""What every answer of the web view carries, and what no answer may be: a traceback.

A strict Content-Security-Policy (no script at all, styles from our own file, no framing),
`Cache-Control: no-store` on every page (they show personal data; only the stylesheet may be
cached), no referrer (a login link must not leak in a Referer header), and a plain page for
every refusal or fault. A too long query string is refused before any handler reads it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
MAX_QUERY = 2048
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Page = Callable[[web.Request, int, str, str], web.Response]


def harden(response: web.StreamResponse, cacheable: bool = False) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "public, max-age=3600" if cacheable else "no-store"


def guard(page: Page) -> Callable[..., object]:
    """The sub-application's middleware: limits, headers, and a page for every error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        cacheable = request.path.startswith("/web/static/")
        try:
            if len(request.query_string) > MAX_QUERY:
                response: web.StreamResponse = page(request, 414, "web_refused_title", "web_too_long")
            else:
                response = await handler(request)
        except web.HTTPNotFound:
            response = page(request, 404, "web_refused_title", "web_not_found")
        except web.HTTPException as exc:
            if exc.status >= 400:
                response = page(request, exc.status, "web_refused_title", getattr(exc, "key", "web_bad_request"))
            else:
                harden(exc)
                raise
        except Exception:  # never a traceback to the browser; the log has it
            log.exception("web view: %s %s failed", request.method, request.path)
            response = page(request, 500, "web_refused_title", "web_error")
        if not response.prepared:
            harden(response, cacheable and response.status == 200)
        return response

    return middleware
