"""Taking access away and seeing who looked at what (SQLite and PostgreSQL): disable and enable,
revoke a code, hand a village to a new head, administrators follow the settings, the access
log and its views, and invite codes that cannot be guessed by trying."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from bot.app import ChatApp, build_app
from core.chat.messages import ChatRef, Incoming
from core.storage.models import AccessLog, InviteCode, Unit, User
from core.storage.repo import ensure_user
from tests.households import NEAR_POOR, make_village_head, run_survey

ROOT = Path(__file__).parents[1]


async def say(app: ChatApp, chat: ChatRef, text: str) -> str:
    return "\n".join(m.text for m in (await app.handle(chat, Incoming(text=text))).messages)


async def staff(app: ChatApp, user: str, role: str, code: str | None, level: str) -> ChatRef:
    async with app.db.transaction() as s:
        query = select(Unit).where(Unit.configuration == "65", Unit.level == level)
        unit = await s.scalar(query.where(Unit.code == code) if code else query)
        assert unit is not None
        await ensure_user(s, "test", user, f"Cán bộ {user}", role, unit.id)
    return ChatRef("test", user, user)


async def user_id(app: ChatApp, external: str) -> int:
    async with app.db.read() as s:
        return (await s.scalars(select(User.id).where(User.external_id == external))).one()


async def test_the_level_above_disables_and_enables_and_nobody_else_can(service: ChatApp) -> None:
    head = await make_village_head(service)
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    neighbour = await staff(service, "c2", "commune", "6040", "commune")
    hid = await user_id(service, "u1")
    assert "không thuộc đơn vị cấp dưới" in await say(service, neighbour, f"/khoa #{hid}")
    assert "không thuộc đơn vị cấp dưới" in await say(service, clerk, f"/khoa #{await user_id(service, 'c2')}")
    menu = await service.handle(clerk, Incoming(text="/khoa"))
    assert [b.payload for row in menu.messages[0].buttons for b in row] == [f"c:disable:#{hid}"]
    assert "Đã khóa" in await say(service, clerk, f"/khoa #{hid}")
    assert "chưa đăng ký" in await say(service, head, "/danhsach")  # a stranger at once
    other_head = await make_village_head(service, user="u9", village="Thôn Chín")
    assert "Chỉ cán bộ" in await say(service, other_head, "/khoa")
    assert "Đã mở khóa" in await say(service, clerk, f"/mokhoa #{hid}")
    assert "chưa có hộ nào" in await say(service, head, "/danhsach")  # registered again, nothing lost


async def test_an_unused_code_is_revoked_and_a_village_changes_head(service: ChatApp) -> None:
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    issued = await say(service, clerk, "/moi +Thôn Nà Pàn")
    code = issued.split("Mã mời: ")[1].split()[0]
    neighbour = await staff(service, "c2", "commune", "6040", "commune")
    assert "không do bạn cấp" in await say(service, neighbour, f"/huyma {code}")
    assert "Đã hủy" in await say(service, clerk, f"/huyma {code}")
    assert "hết hạn" in await say(service, ChatRef("test", "late", "late"), f"/dangky {code}")
    # the old head surveys, then leaves: the new head takes over the village and its households
    old = await make_village_head(service, user="old", village="Thôn Nà Pàn")
    await run_survey(service, old, NEAR_POOR)
    async with service.db.read() as s:
        village = await s.scalar(select(Unit).where(Unit.name == "Thôn Nà Pàn"))
    assert village is not None
    handed = await say(service, clerk, f"/chuyenthon #{village.id}")
    assert "đã khóa trưởng thôn cũ (Trưởng thôn old)" in handed
    assert "chưa đăng ký" in await say(service, old, "/danhsach")
    new_code = handed.split("Mã mời cho trưởng thôn mới: ")[1].split()[0]
    new = ChatRef("test", "new", "new", "Trưởng thôn mới")
    assert "Đăng ký thành công" in await say(service, new, f"/dangky {new_code}")
    assert "#1" in await say(service, new, "/danhsach")


async def test_administrators_follow_the_settings_at_every_start(service: ChatApp) -> None:
    settings = dataclasses.replace(service.settings, admin_ids=frozenset({("test", "boss")}))
    app = await build_app(settings, service.db)
    boss = ChatRef("test", "boss", "boss", "Quản trị")
    assert "Mã mời" in await say(app, boss, "/moicanbo xa 6202")
    dropped = await build_app(dataclasses.replace(settings, admin_ids=frozenset()), service.db)
    assert "chưa đăng ký" in await say(dropped, boss, "/moicanbo xa 6202")
    back = await build_app(settings, service.db)
    assert "Mã mời" in await say(back, boss, "/moicanbo xa 6202")
    async with service.db.read() as s:
        assert (await s.scalars(select(AccessLog.action))).all() == ["admin_dropped"]


async def test_every_view_list_and_report_is_logged_and_the_level_above_sees_it(service: ChatApp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    head = await make_village_head(service)
    await run_survey(service, head, NEAR_POOR)
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    await say(service, clerk, "/mo 1")
    await say(service, clerk, "/danhsach")
    async with service.db.read() as s:
        commune = await s.scalar(select(Unit).where(Unit.code == "6202", Unit.configuration == "65"))
    assert commune is not None
    await say(service, clerk, f"/baocao ds_can_ngheo #{commune.id}")
    province = await staff(service, "p1", "province", None, "province")
    log = await say(service, province, "/nhatky")
    assert "Cán bộ c1 · xem hộ #1" in log and "xem danh sách hộ" in log and "lập báo cáo ds_can_ngheo" in log
    assert "Chỉ cán bộ" in await say(service, head, "/nhatky")
    async with service.db.read() as s:
        details = [str(d) for d in (await s.scalars(select(AccessLog.detail))).all()]
    assert not any("Hoàng Văn Minh" in d or "020180001234" in d for d in details)  # ids, never answers
    env = {**os.environ, "DATABASE_URL": service.db.url, "RASOAT_DATA_DIR": str(service.settings.data_dir),
           "REVIEW_YEAR": "2026"}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "audit", "--unit", "6202"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "view_household" in out.stdout and "report" in out.stdout, out.stderr
    users = subprocess.run([sys.executable, "-m", "bot.cli", "users", "disable", str(await user_id(service, "u1"))],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert users.returncode == 0 and "disabled" in users.stdout
    assert "chưa đăng ký" in await say(service, head, "/danhsach")


async def test_invite_codes_cannot_be_guessed_by_trying(service: ChatApp) -> None:
    clerk = await staff(service, "c1", "commune", "6202", "commune")
    code = (await say(service, clerk, "/moi +Thôn Nà Pàn")).split("Mã mời: ")[1].split()[0]
    guesser = ChatRef("test", "guess", "guess")
    for attempt in range(5):
        assert "không đúng" in await say(service, guesser, f"/dangky WRONG{attempt}")
    assert "quá 5 lần" in await say(service, guesser, f"/dangky {code}")  # even the right one, for an hour
    other = ChatRef("test", "other", "other")
    assert "Đăng ký thành công" in await say(service, other, f"/dangky {code}")  # others are not locked out
    async with service.db.read() as s:
        assert (await s.get(InviteCode, code)).used_by is not None  # type: ignore[union-attr]
