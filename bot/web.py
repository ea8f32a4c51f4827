"""The HTTP server some channels need: Zalo's webhook and the signed file links.

It faces the internet, so a slow or idle client must not be able to hold it: 1,100 idle
connections once stopped the webhook. Three limits hold it:

* header timeout: a connection that has not sent a complete request (headers) within
  `header_timeout` seconds of opening, or of its previous response, is closed (aiohttp's
  keep-alive timer, which also runs before the first request);
* body timeout: a request whose body has not fully arrived within `body_timeout` seconds gets
  408 and the connection is closed (the handler runs meanwhile and reads the body as usual);
* connection cap: beyond `max_connections` open connections, the oldest connection that is not
  being served is closed to make room, so idle sockets cannot lock out a real request.

In production run it behind a reverse proxy (nginx, docs/deployment.md) that buffers requests and terminates
TLS; these limits are the last line when it is exposed directly.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.files import ROUTE, FileLinks

log = logging.getLogger(__name__)
HEADER_TIMEOUT = 15.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 512

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _body_timeout(seconds: float) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.can_read_body:
            return await handler(request)
        arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request.content.on_eof(lambda: arrived.done() or arrived.set_result(None))
        task = asyncio.ensure_future(handler(request))
        try:
            done, _ = await asyncio.wait({task, arrived}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            if done:
                return await task
        finally:
            if not task.done():  # the body timed out, or this request was cancelled
                task.cancel()
        # Answer, then drop the connection: aiohttp would otherwise linger reading the rest.
        response = web.Response(status=408, text="request body too slow", headers={"Connection": "close"})
        await response.prepare(request)
        await response.write_eof()
        if request.protocol is not None:
            request.protocol.force_close()
        return response

    return middleware


def _cap_connections(server: web.Server, cap: int) -> None:
    """Make room for a new connection by closing the oldest idle one once the cap is reached."""
    made = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        made(handler, transport)
        excess = len(server.connections) - cap
        if excess <= 0:
            return
        idle = [h for h in server.connections if h is not handler and not getattr(h, "_request_in_progress", False)]
        for victim in idle[:excess]:
            victim.force_close()
        if len(idle) < excess:  # every connection is busy: refuse the newcomer
            handler.force_close()
        log.warning("connection cap %d reached: closed %d idle connection(s)", cap, min(len(idle), excess))

    server.connection_made = connection_made  # type: ignore[method-assign]


def secret_matches(header: str | None, secret: str) -> bool:
    """A webhook's secret header, compared in constant time; an empty or non-ASCII header is
    simply wrong (never an error), and an empty configured secret matches nothing."""
    if not header or not secret or not header.isascii():
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


class _OneLine(logging.Filter):
    """aiohttp logs a request it cannot parse (a 200 kB download URL: LineTooLong) with a full
    traceback and the first hundred bytes of the line; it already answered 400. Keep one line
    naming the fault, never the URL (a link's name may be a household's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "bad HTTP request refused with 400 (%s)", (type(exc).__name__,)
            record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.WARNING, "WARNING"
        return True


logging.getLogger("aiohttp.server").addFilter(_OneLine())


class BadBody(Exception):
    """A webhook body that passed the secret check but is not an update: the caller answers 400."""


async def json_body(request: web.Request) -> Any:
    """The request's JSON. Malformed text, bad UTF-8 and nesting deep enough to exhaust the
    parser's recursion (10,000 nested lists) are BadBody, not a 500 with a traceback."""
    try:
        return json.loads(await request.read())
    except (ValueError, RecursionError) as exc:
        raise BadBody(type(exc).__name__) from None


def refuse_body(channel: str, why: str) -> web.Response:
    """400 and one log line naming only the kind of fault: a body may hold ID numbers and phones."""
    log.warning("%s webhook: body refused (%s)", channel, why[:80])
    return web.Response(status=400)


class WebServer:
    def __init__(self, listen: str, port: int, links: FileLinks | None, routes: list[web.RouteDef],
                 client_max_size: int = 1024**2, header_timeout: float = HEADER_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 reuse_port: bool = False) -> None:
        self.listen = listen
        self.reuse_port = reuse_port  # several worker processes share the port (rasoat run --workers)
        self.port = port
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.app = web.Application(client_max_size=client_max_size, middlewares=[_body_timeout(body_timeout)])
        if links is not None:
            self.app.router.add_get(ROUTE, links.handle)
        self.app.add_routes(routes)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Start serving; returns the port (useful when 0 asked for any free one)."""
        self._runner = web.AppRunner(self.app, keepalive_timeout=self.header_timeout)
        await self._runner.setup()
        assert self._runner.server is not None
        _cap_connections(self._runner.server, self.max_connections)
        site = web.TCPSite(self._runner, self.listen, self.port, backlog=min(self.max_connections, 1024),
                           reuse_port=self.reuse_port or None)
        await site.start()
        server = site._server
        return server.sockets[0].getsockname()[1] if server and server.sockets else self.port  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
