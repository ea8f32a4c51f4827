"""The console channel: the same application, spoken through a terminal.

It is the embedded default when no bot token is set, and the quickest way for a newcomer to
take a whole survey. Buttons are shown with what to type instead: a choice's number, or the
command next to a navigation button. `/thoat` leaves the form, as on Telegram; the program
ends with Ctrl+D, `/ketthuc` or Ctrl+C (which says goodbye and that the line being typed was
not sent; every answer sent before is already stored). `rasoat chat --role xa` (or huyen,
tinh) registers a commune, district or province officer instead of a village head, so the
officers' side can be tried without a bot token. A line `@PATH caption` sends the file at PATH
with the caption, as a file sent in Telegram (`@ds_2025.xlsx /nhapds`); a picture is sent as a
photo. The file is copied into the uploads folder first, so the user's own copy is never moved.
"""

from __future__ import annotations

import asyncio
import getpass
import shlex
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import ChatApp
from bot.handlers.accounts import village_phrase
from bot.plain import plain_text
from core.access import ROLE_LEVEL, Role
from core.accounts import issue_invite, redeem
from core.chat.messages import Attachment, ChatRef, Incoming, OutMessage
from core.i18n import catalog, t
from core.storage.models import Unit, User
from core.text import fold
from core.units.loader import add_village
from core.units.names import find_village

CHANNEL = "console"
PROMPT = "> "
PICTURES = (".jpg", ".jpeg", ".png")  # sent as a photo, as a phone's camera would


# the locale keys of the unit picker's question, no match, too many matches, pick a number
_PICK_TEXTS = {
    "commune": ("console_ask_commune", "console_commune_none", "console_commune_many", "console_commune_pick"),
    "district": ("console_ask_district", "console_unit_none", "console_unit_many", "console_unit_pick"),
    "province": ("console_ask_province", "console_unit_none", "console_unit_many", "console_unit_pick"),
}


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
        self.input_ended = False  # the input closed (Ctrl+D, end of a piped script, </dev/null)

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
        self.input_ended = line is None
        return None if line is None else line.rstrip("\n")

    def _read_all(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
        while True:
            line = self.stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line or None)
            if not line:
                return

    # ----- first run ----------------------------------------------------------------------

    async def setup(self, name: str | None, commune_code: str | None, village: str | None,
                    role: Role | None = None, unit_code: str | None = None) -> bool:
        """First run: who this person is and which unit they work for (a village head by default;
        `role` lets one try the officers' side without a Telegram token). The person at the
        terminal is trusted (it is their machine), but they are registered as everyone else is:
        a one-time code for the unit, redeemed at once."""
        db = self.app.db
        async with db.transaction() as s:
            known = await s.scalar(select(User).where(User.channel == CHANNEL, User.external_id == self.user))
        if known is not None:
            if role is not None and known.role != role:
                self.say(t("console_other_role", user=self.user, role=t(f"role_{known.role}")))
                return False
            return True
        role = role or Role.VILLAGE_HEAD
        self.say(t("console_setup") if role is Role.VILLAGE_HEAD else t("console_setup_officer",
                                                                         role=t(f"role_{role}")))
        name = name or await self._read_nonempty(t("console_ask_name"))
        if not name:
            return False
        if role is Role.VILLAGE_HEAD:
            return await self._register_village_head(name, commune_code, village)
        level = ROLE_LEVEL[role]
        unit = await self._pick_unit(level, commune_code if level == "commune" else unit_code)
        if unit is None:
            return False
        async with db.transaction() as s:
            await self._register(s, role, unit, name)
        self.say(t("console_registered_officer", name=name, role=t(f"role_{role}"), unit=unit.name))
        return True

    async def _register_village_head(self, name: str, commune_code: str | None, village: str | None) -> bool:
        commune = await self._pick_unit("commune", commune_code)
        village = village or (await self._read_nonempty(t("console_ask_village")) if commune else None)
        if not (commune and village):
            return False
        async with self.app.db.transaction() as s:
            home = await s.get(Unit, commune.id)
            assert home is not None
            unit = await find_village(s, home, village) or await add_village(s, home, village.strip())
            await self._register(s, Role.VILLAGE_HEAD, unit, name)
        self.say(t("console_registered_head", name=name, village=village_phrase(unit.name), commune=commune.name))
        return True

    async def _register(self, s: AsyncSession, role: Role, unit: Unit, name: str) -> None:
        code = await issue_invite(s, role, unit, None)
        await redeem(s, code.code, CHANNEL, self.user, name.strip(), self.user)

    async def _read_nonempty(self, prompt: str) -> str | None:
        while True:
            line = await self.ask(prompt)
            if line is None or fold(line) in _quit_words() | {fold(w) for w in catalog().words("cmd_cancel")}:
                return None
            if line.strip():
                return line.strip()

    async def _pick_unit(self, level: str, code: str | None) -> Unit | None:
        """A unit of `level` by code or part of its name; a district or province needs no
        question when the configuration has only one."""
        ask, none, many, pick_one = _PICK_TEXTS[level]
        config = self.app.settings.units_configuration
        async with self.app.db.read() as s:
            units = list((await s.scalars(select(Unit).where(
                Unit.configuration == config, Unit.level == level).order_by(Unit.code))).all())
        if level != "commune" and code is None and len(units) == 1:
            return units[0]
        while True:
            query = code or await self._read_nonempty(t(ask))
            code = None
            if query is None:
                return None
            q = fold(query)
            found = [u for u in units if u.code == query.strip() or q in fold(u.name)]
            if not found:
                self.say(t(none, query=query))
                continue
            if len(found) == 1:
                self.say(t("console_unit_matched", unit=found[0].name, code=found[0].code))
                return found[0]
            if len(found) > 12:
                self.say(t(many, count=len(found)))
                continue
            for i, u in enumerate(found, 1):
                self.say(f"   {i}. {u.name} ({u.code})")
            pick = await self.ask(t(pick_one))
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
        if text.startswith("@"):
            await self._send_file(chat, text[1:])
            return
        reply = await self.app.handle(chat, Incoming(text=text))
        await self.send(chat.chat_id, reply.messages)

    async def _send_file(self, chat: ChatRef, line: str) -> None:
        """`@PATH caption`: the file copied into the uploads folder (as a channel saves a
        download) and handled with its caption; the copy is deleted unless a submission keeps it."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        source = Path(words[0]).expanduser() if words else None
        if source is None or not source.is_file():
            self.say(t("console_file_missing", path=words[0] if words else ""))
            return
        caption = " ".join(words[1:])
        picture = source.suffix.lower() in PICTURES
        uid = uuid.uuid4().hex[:12]

        async def handle(file: Attachment) -> None:
            incoming = Incoming(text=caption, update_id=uid, photo=file if picture else None,
                                document=None if picture else file)
            await self.send(chat.chat_id, (await self.app.handle(chat, incoming)).messages)

        refusal = await self.app.uploads.receive(chat, uid, source.name, source.stat().st_size, picture,
                                                 lambda path: asyncio.to_thread(shutil.copyfile, source, path), handle)
        if refusal is not None:
            await self.send(chat.chat_id, [refusal])

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
                await self.type(line)  # an empty line too: the question is asked again, with its hint
        except asyncio.CancelledError:  # Ctrl+C
            self.say("")
            self.say(t("console_interrupted"))
            raise
