"""The HTTP server some channels need: Zalo's webhook and the signed file links."""

from __future__ import annotations

from aiohttp import web

from bot.files import ROUTE, FileLinks


class WebServer:
    def __init__(self, listen: str, port: int, links: FileLinks | None, routes: list[web.RouteDef],
                 client_max_size: int = 1024**2, reuse_port: bool = False) -> None:
        self.listen = listen
        self.reuse_port = reuse_port  # several worker processes share the port (rasoat run --workers)
        self.port = port
        self.app = web.Application(client_max_size=client_max_size)
        if links is not None:
            self.app.router.add_get(ROUTE, links.handle)
        self.app.add_routes(routes)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Start serving; returns the port (useful when 0 asked for any free one)."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port, reuse_port=self.reuse_port or None)
        await site.start()
        server = site._server
        return server.sockets[0].getsockname()[1] if server and server.sockets else self.port  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
