"""Login links for the web view: single-use, ten minutes, signed with the existing link secret.

The bot hands an officer a link in their private chat; opening it starts a browser session
(sessions.py), so there is never a second password to manage. The signature uses the data
folder's link secret (the one bot/files.py signs file links with) under its own purpose label,
so a file link can never be replayed as a login link nor the other way round. A link names its
user and carries a random nonce; the nonce becomes the session row's unique key, which is what
makes a link single-use across worker processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from core.private import read_or_create_secret

LINK_SECONDS = 600
PURPOSE = b"rasoat-web-login\n"
LOGIN_PATH = "/web/login/"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LoginClaim:
    user_id: int
    expires: int
    nonce: str


class LoginLinks:
    def __init__(self, data_dir: Path, public_url: str, seconds: int = LINK_SECONDS) -> None:
        self.secret = read_or_create_secret(Path(data_dir).resolve() / ".link_secret").encode()
        self.public_url = public_url.rstrip("/")
        self.seconds = seconds

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, PURPOSE + payload.encode(), hashlib.sha256).hexdigest()

    def token(self, user_id: int, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.seconds)
        payload = f"{user_id}:{expires}:{secrets.token_hex(16)}"
        return f"{_b64(payload.encode())}.{self._sign(payload)}"

    def url(self, user_id: int, now: float | None = None) -> str:
        return f"{self.public_url}{LOGIN_PATH}{self.token(user_id, now)}"

    def check(self, token: str, now: float | None = None) -> LoginClaim | str:
        """The claim of a genuine, live token, or why it is refused ('forged' | 'expired')."""
        encoded, _, signature = token.partition(".")
        if len(token) > 300 or not encoded or not signature.isascii():
            return "forged"
        try:
            payload = _unb64(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return "forged"
        if not hmac.compare_digest(self._sign(payload), signature):
            return "forged"
        user, expires, nonce = [*payload.split(":"), "", "", ""][:3]
        if not (user.isdigit() and expires.isdigit() and len(user) < 10 and len(expires) < 12 and nonce):
            return "forged"
        if int(expires) < (time.time() if now is None else now):
            return "expired"
        return LoginClaim(int(user), int(expires), nonce)
