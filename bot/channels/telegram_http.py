"""python-telegram-bot's network backend on aiohttp instead of httpx.

PTB lets an application bring its own backend (a `telegram.request.BaseRequest` subclass); the
library still builds every request, parses every answer, rate-limits and raises its errors.
Measured on this machine against the fake Bot API (bench.all, docs/benchmarks.md): a
sendMessage through the default httpx backend costs 1.2 ms of CPU alone and 2-3 ms when 20 are
in flight, the same call through aiohttp 0.3 ms; the bot already runs aiohttp for its webhook
server, so no package is added. Timeouts mean what they mean for HTTPXRequest (read, write and
connect per call, pool = waiting for a free connection; aiohttp has no write timeout), and the
errors are the library's own: TimedOut and NetworkError, which the channel and the outbox
already handle.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULTS = {"read": 5.0, "connect": 5.0, "pool": 1.0}  # seconds, HTTPXRequest's defaults
JSON_BODY = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    def __init__(self, connections: int = 256, read_timeout: float | None = DEFAULTS["read"]) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(connections)

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = _given(connect_timeout, DEFAULTS["connect"])
        pool = _given(pool_timeout, DEFAULTS["pool"])
        body: Any = None
        headers: dict[str, str] | None = None
        if files:
            form = aiohttp.FormData()
            for name, value in (request_data.json_parameters if request_data else {}).items():
                form.add_field(name, value)
            for name, part in files.items():
                if isinstance(part, tuple):
                    filename, content, *mime = part
                    form.add_field(name, content, filename=filename,
                                   content_type=mime[0] if mime else "application/octet-stream")
                else:
                    form.add_field(name, part)
            body = form
        elif request_data is not None:
            # one JSON body, which the Bot API takes for every call without a file: PTB's own
            # form encoding percent-encoded every byte of the Vietnamese text in Python, about a
            # tenth of the bot's CPU per answer at 20 users (bench section 1, cProfile)
            body = request_data.json_payload
            headers = JSON_BODY
        # As httpx's, the read timeout bounds each wait for data, not the whole call, so a large
        # file downloads as long as bytes keep coming; aiohttp has no per-write timeout, so
        # write_timeout is accepted and not applied.
        timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)
        try:
            await asyncio.wait_for(self._slots.acquire(), pool)
        except TimeoutError as err:
            raise TimedOut("Pool timeout: all connections are in use; the request was not sent") from err
        try:
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        finally:
            self._slots.release()


def _given(value: Any, default: float) -> float | None:
    return default if isinstance(value, DefaultValue) else value
