"""The console channel: the same service and engine, spoken through a terminal.

It is the embedded default when no bot token is set, and the quickest way for a newcomer to
take a whole survey. Buttons are shown with what to type instead: a choice's number, or the
command next to a navigation button.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import select

from bot.plain import plain_text
from core.conversation.messages import Incoming
from core.i18n import t
from core.service import ChatRef, SurveyService
from core.storage.models import Unit, User
from core.storage.repo import ensure_user
from core.surveys.parsing import fold
from core.units.loader import add_village

CHANNEL = "console"
PROMPT = "> "
QUIT_WORDS = ("/thoat", "/quit", "/exit")


class Console:
    def __init__(self, service: SurveyService, stdin: TextIO, stdout: TextIO, user: str | None = None) -> None:
        self.service = service
        self.stdin = stdin
        self.stdout = stdout
        self.user = user or getpass.getuser()

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def ask(self, prompt: str) -> str | None:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = await asyncio.get_running_loop().run_in_executor(None, self.stdin.readline)
        return None if line == "" else line.rstrip("\n")

    async def setup(self, name: str | None, commune_code: str | None, village: str | None) -> bool:
        """First run: record who this enumerator is and which village they survey."""
        db = self.service.db
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
            unit = await add_village(s, await s.get(Unit, commune.id), village.strip())
            await ensure_user(s, CHANNEL, self.user, name.strip(), "village_head", unit.id)
        self.say(t("console_registered", name=name, village=village, commune=commune.name))
        return True

    async def _read_nonempty(self, prompt: str) -> str | None:
        while True:
            line = await self.ask(prompt)
            if line is None or fold(line) in QUIT_WORDS:
                return None
            if line.strip():
                return line.strip()

    async def _pick_commune(self, code: str | None) -> Unit | None:
        config = self.service.settings.units_configuration
        async with self.service.db.transaction() as s:
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

    async def send(self, text: str) -> None:
        reply = await self.service.handle(ChatRef(CHANNEL, self.user, self.user), Incoming(text=text))
        for message in reply.messages:
            self.say(plain_text(message))
            self.say("")

    async def loop(self, on_line: Callable[[str], None] | None = None) -> None:
        await self.send("/start")
        while True:
            line = await self.ask(PROMPT)
            if line is None or fold(line) in QUIT_WORDS:
                self.say(t("console_bye"))
                return
            if on_line:
                on_line(line)
            if line.strip():
                await self.send(line)
