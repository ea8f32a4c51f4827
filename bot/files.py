"""Signed, expiring download links for files the bot made (report workbooks, charts).

Zalo's Bot API sends text and photos by URL only: a report workbook reaches a commune officer
as a link, and a chart as a photo Zalo fetches from that link. A link names one file under
RASOAT_DATA_DIR, carries its expiry, and is signed with a secret kept in the data folder, so
it cannot be forged or pointed at another file; after expiry it answers 410. Anyone holding a
live link can download the file: links are sent only to the chat that asked for the report,
and expire after RASOAT_LINK_HOURS (24 h by default).

Only files under the reports and uploads folders are ever served, whatever the signature: the
database, the keys and anything else in the data folder stay unreachable even if the secret
leaked. The secret is created atomically (see core.private) and an empty one is refused.
Generated reports are deleted once no link to them can be live (`prune_reports`, daily).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from core.private import read_or_create_secret

ROUTE = "/f/{token}/{name}"
SERVED = ("reports", "uploads")  # the only folders of the data folder a link may name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FileLinks:
    def __init__(self, data_dir: Path, public_url: str, hours: float = 24) -> None:
        self.root = data_dir.resolve()
        self.public_url = public_url.rstrip("/")
        self.seconds = int(hours * 3600)
        self.secret = self._secret()

    def _secret(self) -> bytes:
        return read_or_create_secret(self.root / ".link_secret").encode()

    def servable(self, file: Path) -> bool:
        """A resolved path is served only if it is a file under reports/ or uploads/."""
        return any(folder in file.parents for folder in (self.root / name for name in SERVED)) \
            and not file.name.startswith(".")

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, path: str | Path, now: float | None = None) -> str:
        file = Path(path).resolve()
        if not self.servable(file):
            raise ValueError(f"only files under {', '.join(SERVED)} of the data folder can be linked")
        relative = file.relative_to(self.root)
        expires = int((now or time.time()) + self.seconds)
        payload = f"{expires}:{relative.as_posix()}"
        token = f"{_b64(payload.encode())}.{self._sign(payload)}"
        return f"{self.public_url}/f/{token}/{quote(file.name)}"

    def resolve(self, token: str, now: float | None = None) -> Path | None:
        """The file a token names, or None if it is forged, expired or gone."""
        encoded, _, signature = token.partition(".")
        try:
            payload = _unb64(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        expires, _, relative = payload.partition(":")
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        file = (self.root / relative).resolve()
        if not self.servable(file) or not file.is_file():
            return None
        return file

    async def handle(self, request: web.Request) -> web.StreamResponse:
        file = self.resolve(request.match_info["token"])
        if file is None:
            return web.Response(status=410, text="link expired or invalid")
        disposition = f"attachment; filename*=UTF-8''{quote(file.name)}"
        return web.FileResponse(file, headers={"Content-Disposition": disposition})
