"""The officers' read-only web view (issue 24): mounted at /web on the existing HTTP server."""

from __future__ import annotations

from bot.webview.app import PREFIX, WebView

__all__ = ["PREFIX", "WebView"]
