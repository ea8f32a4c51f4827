"""Hypothesis fuzzing of every question type through the service and the real store: very long
text, emoji, control characters, SQL-like text, negative and huge numbers, stale and forged
button presses. Never a crash or an internal error; a refused answer is re-asked (the question
is repeated) and changes nothing; an accepted one is stored and can be taken back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.i18n import t
from core.storage.db import Database
from core.storage.models import Answer, Conversation
from core.surveys.model import QType
from tests.households import POOR, answer_for, cursor, make_village_head, questions_of

SQLISH = ["'; DROP TABLE answers; --", "1 OR 1=1", "\" OR \"\"=\"", "1; DELETE FROM households",
          "%s %s %s", "{0} {name} {{}}", "NULL", "None", "Nguyễn\x00Văn", "\x00", "${jndi:ldap://x}",
          "<script>alert(1)</script>"]
NUMBERISH = ["-1", "-1500000", "0", "-0", "1e309", "NaN", "inf", "99999999999999999999999999",
             "1.5.5.5", "1tr5tr", "-1tr5", "9999999 tỷ", "٣", "１２３", "1,5,5", "00000", "2 triệu rưỡi rưỡi"]
inputs = st.one_of(
    st.text(max_size=40),
    st.text(min_size=1500, max_size=5000),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=30),
    st.text(alphabet=st.sampled_from(list("😀👍🏽🇻🇳🧑‍🌾✅❌🔥 \u200d\ufe0f")), min_size=1, max_size=60),
    st.sampled_from(SQLISH + NUMBERISH),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
payloads = st.one_of(
    st.text(max_size=80).map(lambda s: "a:" + s),
    st.sampled_from(["a:chu_ho_ten:x", "a:dan_toc:kinh", "a:tv.9.quan_he:1", "a::", "a:x", "c:", "c:open:-1",
                     "c:edit:999999", "c:new:../../etc", "c:report:7.1:#0", "zz:top"]),
    st.text(max_size=64),
)


# POOR with an assessed income, so that the money question (thu_nhap_bq) is reached too.
ASSESSED = {**POOR, "thu_nhap_tham_dinh": "có", "can_cu_tham_dinh": "Biên bản 01"}


async def _positions(service: ChatApp) -> dict[QType, tuple[ChatRef, str]]:
    """One conversation standing at a question of each type, reached by answering ASSESSED."""
    found: dict[QType, tuple[ChatRef, str]] = {}
    questions = questions_of(service.forms)
    for n in range(40):
        chat = await make_village_head(service, f"fz{n}", village=f"Thôn F{n}")
        await service.handle(chat, Incoming(text="/hoimoi phieu_b"))
        while True:
            key = await cursor(service, chat)
            if key is None:
                break
            qtype = questions[key.split(".")[-1]].type
            if qtype not in found:
                found[qtype] = (chat, key)
                break
            await service.handle(chat, Incoming(text=answer_for(ASSESSED, key)))
        if key is None or len(found) == len({q.type for q in questions.values() if q.asked}):
            break
    return found


async def _household(service: ChatApp, chat: ChatRef) -> int | None:
    async with service.db.read() as s:
        return await s.scalar(select(Conversation.household_id).where(
            Conversation.channel == chat.channel, Conversation.chat_id == chat.chat_id))


def _fuzz(db_url: str, tmp_path: Any, examples: int) -> None:
    loop = asyncio.new_event_loop()
    settings_ = Settings.from_env({"DATABASE_URL": db_url, "REVIEW_YEAR": "2026", "UNITS_CONFIGURATION": "65",
                                   "RASOAT_DATA_DIR": str(tmp_path)})
    db = Database(settings_.database_url)
    service = loop.run_until_complete(build_app(settings_, db))
    positions = loop.run_until_complete(_positions(service))
    assert {QType.TEXT, QType.INTEGER, QType.MONEY, QType.YEAR, QType.CHOICE, QType.YES_NO,
            QType.ID_NUMBER, QType.PHONE} <= set(positions)
    internal = t("internal_error")
    updates = iter(range(10**9))

    labels = {qid: q.label.split("{")[0].strip()[:20] for qid, q in questions_of(service.forms).items()}

    async def check_text(qtype: QType, text: str) -> None:
        chat, key = positions[qtype]
        household = await _household(service, chat)
        async with service.db.read() as s:
            old = await s.scalar(select(Answer.value).where(Answer.household_id == household, Answer.key == key))
        reply = await service.handle(chat, Incoming(text=text, update_id=f"fz{next(updates)}"))
        said = "\n".join(m.text for m in reply.messages)
        assert reply.messages and internal not in said, (qtype, text, said)
        now = await cursor(service, chat)
        if now == key:
            if not text.strip().startswith("/"):  # refused: said why and asked the same question again
                assert labels[key.split(".")[-1]] in said and len(reply.messages[0].text) > 5, (text, said)
            return
        async with service.db.read() as s:
            stored = await s.scalar(select(Answer.value).where(Answer.household_id == household, Answer.key == key))
        if stored is not None and stored != old:  # accepted: take it back so the next example meets the same question
            await service.handle(chat, Incoming(text="/quaylai"))
        else:  # a command typed as an answer (e.g. '/xemlai'): return to the question
            await service.handle(chat, Incoming(text="/tieptuc"))
        if await cursor(service, chat) != key:
            await service.handle(chat, Incoming(text="/cancel"))
            positions.update(await _positions(service))

    async def check_payload(qtype: QType, data: str) -> None:
        chat, key = positions[qtype]
        async with service.db.read() as s:
            before = await s.scalar(select(func.count()).select_from(Answer))
        reply = await service.handle(chat, Incoming(payload=data))
        said = "\n".join(m.text for m in reply.messages)
        assert reply.messages and internal not in said, (data, said)
        if data.startswith("a:") and not data.startswith(f"a:{key}:"):
            async with service.db.read() as s:
                assert await s.scalar(select(func.count()).select_from(Answer)) == before
            assert await cursor(service, chat) == key

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(qtype=st.sampled_from(sorted(positions)), text=inputs, data=payloads)
    def run(qtype: QType, text: str, data: str) -> None:
        loop.run_until_complete(check_text(qtype, text))
        loop.run_until_complete(check_payload(qtype, data))

    try:
        run()
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()


@pytest.mark.parametrize("examples", [150])
def test_fuzzed_answers_never_crash_and_are_re_asked(db_url: str, tmp_path, examples: int) -> None:  # type: ignore[no-untyped-def]
    _fuzz(db_url, tmp_path, examples)
