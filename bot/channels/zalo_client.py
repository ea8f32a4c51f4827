"""A thin client for the Zalo Bot API (bot.zapps.me / bot-api.zaloplatforms.com).

The API is shaped like Telegram's: POST https://bot-api.zaloplatforms.com/bot<TOKEN>/<method>,
JSON answers {"ok": ..., "result": ..., "error_code": ..., "description": ...}. Methods used:
getMe, getUpdates (long polling; one update per call), setWebhook / deleteWebhook,
sendMessage (text only: no inline buttons, no documents) and sendPhoto (by URL).

python-zalo-bot exists (a fork of python-telegram-bot); a client of this size over httpx,
which python-telegram-bot already brings, keeps the channel's behaviour in our hands and its
fake in the tests simple. Facts about the API come from public third-party clients and
examples [secondary]; docs/zalo.md lists what was assumed.
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_BASE = "https://bot-api.zaloplatforms.com"


class ZaloAPIError(Exception):
    def __init__(self, method: str, error_code: int | None, description: str) -> None:
        super().__init__(f"{method}: {error_code} {description}")
        self.method = method
        self.error_code = error_code
        self.description = description


class ZaloClient:
    def __init__(self, token: str, base: str | None = None, timeout: float = 15) -> None:
        self.url = f"{(base or DEFAULT_BASE).rstrip('/')}/bot{token}"
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, http_timeout: float | None = None, **params: Any) -> Any:
        try:
            response = await self.http.post(
                f"{self.url}/{method}", json=params,
                timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ZaloAPIError(method, None, f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            raise ZaloAPIError(method, response.status_code, response.text[:200]) from None
        if not isinstance(body, dict) or not body.get("ok"):
            body = body if isinstance(body, dict) else {}
            raise ZaloAPIError(method, body.get("error_code", response.status_code),
                               str(body.get("description", "")))
        return body.get("result")

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")  # type: ignore[no-any-return]

    async def get_updates(self, timeout: int = 30) -> list[dict[str, Any]]:
        """The API hands out one update per call; no update means a 408 or an empty result."""
        try:
            result = await self.call("getUpdates", http_timeout=timeout + 10, timeout=str(timeout))
        except ZaloAPIError as exc:
            if exc.error_code == 408:
                return []
            raise
        return updates_of(result)

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        return await self.call("sendMessage", chat_id=chat_id, text=text)  # type: ignore[no-any-return]

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> dict[str, Any]:
        params = {"chat_id": chat_id, "photo": photo_url, **({"caption": caption} if caption else {})}
        return await self.call("sendPhoto", **params)  # type: ignore[no-any-return]

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")


def updates_of(result: Any) -> list[dict[str, Any]]:
    """getUpdates and webhooks carry one update ({event_name, message}); accept a list too."""
    if result is None:
        return []
    if isinstance(result, dict) and "result" in result and "event_name" not in result:
        result = result["result"]
    if isinstance(result, dict):
        return [result] if result.get("message") else []
    if isinstance(result, list):
        return [u for u in result if isinstance(u, dict) and u.get("message")]
    return []
