"""The console channel: the same application, spoken through a terminal.

It is the embedded default when no bot token is set, and the quickest way for a newcomer to
take a whole survey. Buttons are shown with what to type instead: a choice's number, or the
command next to a navigation button. `/thoat` leaves the form, as on Telegram; the program
ends with Ctrl+D, `/ketthuc` or Ctrl+C (which says goodbye and that the line being typed was
not sent; every answer sent before is already stored).
"""

from __future__ import annotations

import asyncio
import getpass
import threading
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import select

from bot.app import ChatApp
from bot.plain import plain_text
from core.access import Role
from core.accounts import issue_invite, redeem
from core.conversation.messages import ChatRef, Incoming, OutMessage
from core.i18n import catalog, t
from core.storage.models import Unit, User
from core.surveys.parsing import fold
from core.units.loader import add_village
from core.units.names import find_village

CHANNEL = "console"
PROMPT = "> "


def _quit_words() -> set[str]:
    return {fold(w) for w in catalog().words("console_quit_words")}


class Console:
    name = CHANNEL

    def __init__(self, app: ChatApp, stdin: TextIO, stdout: TextIO, user: str | None = None) -> None:
        self.app = app
        self.stdin = stdin
        self.stdout = stdout
        self.user = user or getpass.getuser()
        self._lines: asyncio.Queue[str | None] | None = None

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def ask(self, prompt: str) -> str | None:
        """One line, or None at end of input. Lines are read by a daemon thread, so Ctrl+C never
        waits for a read that cannot finish."""
        if self._lines is None:
            self._lines = asyncio.Queue()
            loop = asyncio.get_running_loop()
            threading.Thread(target=self._read_all, args=(loop, self._lines), daemon=True).start()
        self.stdout.write(prompt)
        self.stdout.flush()
        line = await self._lines.get()
        return None if line is None else line.rstrip("\n")

    def _read_all(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
        while True:
            line = self.stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line or None)
            if not line:
                return

    # ----- first run ----------------------------------------------------------------------

    async def setup(self, name: str | None, commune_code: str | None, village: str | None) -> bool:
        """First run: who this enumerator is and which village they survey. The person at the
        terminal is trusted (it is their machine), but they are registered as everyone else is:
        a one-time code for the village, redeemed at once."""
        db = self.app.db
        async with db.transaction() as s:
            if await s.scalar(select(User).where(User.channel == CHANNEL, User.external_id == self.user)):
                return True
        self.say(t("console_setup"))
        name = name or await self._read_nonempty(t("console_ask_name"))
        commune = await self._pick_commune(commune_code) if name else None
        village = village or (await self._read_nonempty(t("console_ask_village")) if commune else None)
        if not (name and commune and village):
            return False
        async with db.transaction() as s:
            home = await s.get(Unit, commune.id)
            assert home is not None
            unit = await find_village(s, home, village) or await add_village(s, home, village.strip())
            code = await issue_invite(s, Role.VILLAGE_HEAD, unit, None)
            await redeem(s, code.code, CHANNEL, self.user, name.strip(), self.user)
        self.say(t("console_registered", name=name, village=unit.name, commune=commune.name))
        return True

    async def _read_nonempty(self, prompt: str) -> str | None:
        while True:
            line = await self.ask(prompt)
            if line is None or fold(line) in _quit_words() | {fold(w) for w in catalog().words("cmd_cancel")}:
                return None
            if line.strip():
                return line.strip()

    async def _pick_commune(self, code: str | None) -> Unit | None:
        config = self.app.settings.units_configuration
        async with self.app.db.read() as s:
            communes = list((await s.scalars(select(Unit).where(
                Unit.configuration == config, Unit.level == "commune"))).all())
        while True:
            query = code or await self._read_nonempty(t("console_ask_commune"))
            code = None
            if query is None:
                return None
            q = fold(query)
            found = [c for c in communes if c.code == query.strip() or q in fold(c.name)]
            if not found:
                self.say(t("console_commune_none", query=query))
                continue
            if len(found) == 1:
                return found[0]
            if len(found) > 12:
                self.say(t("console_commune_many", count=len(found)))
                continue
            for i, c in enumerate(found, 1):
                self.say(f"   {i}. {c.name} ({c.code})")
            pick = await self.ask(t("console_commune_pick"))
            if pick and pick.strip().isdigit() and 1 <= int(pick) <= len(found):
                return found[int(pick) - 1]
            self.say(t("console_bad_pick"))

    # ----- the chat -----------------------------------------------------------------------

    async def send(self, chat_id: str, messages: list[OutMessage]) -> None:
        for message in messages:
            self.say(plain_text(message))
            self.say("")

    async def type(self, text: str) -> None:
        chat = ChatRef(CHANNEL, self.user, self.user)
        reply = await self.app.handle(chat, Incoming(text=text))
        await self.send(chat.chat_id, reply.messages)

    async def loop(self, on_line: Callable[[str], None] | None = None) -> None:
        try:
            await self.type("/start")
            while True:
                line = await self.ask(PROMPT)
                if line is None or fold(line) in _quit_words():
                    if line is None:
                        self.say("")
                    self.say(t("console_bye"))
                    return
                if on_line:
                    on_line(line)
                if line.strip():
                    await self.type(line)
        except asyncio.CancelledError:  # Ctrl+C
            self.say("")
            self.say(t("console_interrupted"))
            raise
