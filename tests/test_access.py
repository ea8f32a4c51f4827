"""The access matrix: every command and button (typed and pressed) tried by every role against
every unit and household; exactly the ones the rules allow succeed, and a refusal never shows
a name from outside the user's area."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import ChatApp, build_app
from bot.router import Router
from core.access import Role
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.storage.db import Database
from core.storage.models import Household, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village

ROLES = ("stranger", "head1", "head2", "comm1", "comm2", "dist1", "dist2", "prov", "admin")
NAMES = {"V1": "Nguyễn Văn Một", "V2": "Trần Thị Hai"}


@dataclass(frozen=True)
class Action:
    name: str
    incoming: Incoming
    target: str | None  # the unit (or household's village) it reaches
    success: Callable[[str], bool]


async def _world(service: ChatApp) -> tuple[dict[str, Unit], dict[str, ChatRef], dict[str, str | None],
                                                  dict[str, Household]]:
    async with service.db.transaction() as s:
        units = {u.id: u for u in (await s.scalars(select(Unit).where(Unit.configuration == "200"))).all()}
        province = next(u for u in units.values() if u.level == "province")
        districts = sorted((u for u in units.values() if u.level == "district"), key=lambda u: u.code or "")
        c1 = min((u for u in units.values() if u.parent_id == districts[0].id), key=lambda u: u.code or "")
        c2 = min((u for u in units.values() if u.parent_id == districts[1].id), key=lambda u: u.code or "")
        v1, v2 = await add_village(s, c1, "Thôn Một"), await add_village(s, c2, "Thôn Hai")
        named = {"P": province, "D1": districts[0], "D2": districts[1], "C1": c1, "C2": c2, "V1": v1, "V2": v2}
        homes = {"head1": ("village_head", "V1"), "head2": ("village_head", "V2"), "comm1": ("commune", "C1"),
                 "comm2": ("commune", "C2"), "dist1": ("district", "D1"), "dist2": ("district", "D2"),
                 "prov": ("province", "P"), "admin": ("admin", "P")}
        chats, home = {"stranger": ChatRef("test", "stranger", "stranger")}, {"stranger": None}
        for who, (role, unit) in homes.items():
            await ensure_user(s, "test", who, who, role, named[unit].id)
            chats[who], home[who] = ChatRef("test", who, who), unit
        households = {}
        for village, name in NAMES.items():
            h = Household(village_id=named[village].id, survey_id="phieu_b", survey_version="1", review_year=2023,
                          status="submitted", head_name=name, outcome="poor", area="rural")
            s.add(h)
            households[village] = h
    return named, chats, home, households


def _covers(named: dict[str, Unit], home: str | None, role: str, target: str) -> bool:
    if home is None:
        return False
    if role == "admin":
        return True
    unit: Unit | None = named[target]
    by_id = {u.id: u for u in named.values()}
    while unit is not None:
        if unit.id == named[home].id:
            return True
        unit = by_id.get(unit.parent_id) if unit.parent_id else None
    return False


async def test_every_role_against_every_unit_only_allowed_actions_succeed(settings: Settings, db: Database) -> None:
    service = await build_app(dataclasses.replace(
        settings, units_configuration="200", review_year=2023, plans=("lang_son_2023",)), db)
    service.clock = lambda: datetime(2023, 11, 8, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    named, chats, home, households = await _world(service)
    roles = {"stranger": None, "head1": "village_head", "head2": "village_head", "comm1": "commune",
             "comm2": "commune", "dist1": "district", "dist2": "district", "prov": "province", "admin": "admin"}

    def actions() -> list[Action]:
        out: list[Action] = []
        for village, h in households.items():
            for inc in (Incoming(text=f"/mo {h.id}"), Incoming(payload=f"c:open:{h.id}")):
                out.append(Action("open", inc, village, lambda r, i=h.id: f"Hộ #{i} " in r))
        for unit_name, unit in named.items():
            for inc in (Incoming(text=f"/baocao 7.1 #{unit.id}"), Incoming(payload=f"c:report:7.1:#{unit.id}")):
                out.append(Action("report", inc, unit_name, lambda r: "Đang lập" in r))
            for inc in (Incoming(text=f"/tiendo #{unit.id}"), Incoming(payload=f"c:progress:#{unit.id}")):
                out.append(Action("progress", inc, unit_name, lambda r: "Tiến độ" in r))
            if unit.code:  # a unit typed by its official code, as officers know it
                out.append(Action("report", Incoming(text=f"/baocao 7.1 {unit.code}"), unit_name,
                                  lambda r: "Đang lập" in r))
                out.append(Action("progress", Incoming(text=f"/tiendo {unit.code}"), unit_name,
                                  lambda r, name=unit.name: r.splitlines()[0].endswith(f": {name}")))
            if unit.level == "village":
                for inc in (Incoming(text=f"/moi #{unit.id}"), Incoming(payload=f"c:invite:#{unit.id}")):
                    out.append(Action("invite", inc, unit_name, lambda r: "Mã mời" in r))
            if unit.level in ("commune", "district"):
                word = "xa" if unit.level == "commune" else "huyen"
                out.append(Action("invite_staff", Incoming(text=f"/moicanbo {word} {unit.code}"), unit_name,
                                  lambda r: "Mã mời" in r))
        out.append(Action("new", Incoming(text="/hoimoi phieu_b"), None, lambda r: "🆕" in r))
        out.append(Action("new", Incoming(payload="c:new:phieu_b"), None, lambda r: "🆕" in r))
        for inc in (Incoming(text="/nopbaocao so_bo_xa"), Incoming(payload="c:submit_report:lang_son_2023/so_bo_xa")):
            out.append(Action("submit", inc, None, lambda r: "Đã ghi nhận" in r or "đã nộp «" in r))
        for inc in (Incoming(text="/theodoi so_bo_xa"), Incoming(payload="c:track:lang_son_2023/so_bo_xa")):
            out.append(Action("track", inc, None, lambda r: r.startswith("📋")))
        return out

    router = Router()
    command = {"submit": "submit_report"}

    def allowed(who: str, action: Action) -> bool:
        """Which roles may send a command is read from the router table; where they may use it
        is the unit tree (their own unit and below) and, for plan reports, the plan's levels."""
        role = roles[who]
        if role is None:
            return False
        if not router.allowed(Role(role), command.get(action.name, action.name)):
            return False
        covered = action.target is not None and _covers(named, home[who], role, action.target)
        return {
            "open": covered,
            "report": covered,
            "progress": covered,
            "invite": action.target is not None and named[action.target].parent_id == named[home[who]].id,  # type: ignore[index]
            "invite_staff": True,
            "new": True,
            "submit": role == "commune",  # the plan's so_bo_xa request goes from communes to districts
            "track": role in ("district", "province", "admin"),  # received by districts, seen from above
        }[action.name]

    wrong: list[str] = []
    tried = 0
    for who in ROLES:
        for action in actions():
            reply = await service.handle(chats[who], action.incoming)
            text = "\n".join(m.text for m in reply.messages)
            tried += 1
            if action.success(text) != allowed(who, action):
                wrong.append(f"{who} {action.incoming} -> {text[:120]!r}")
            for village, name in NAMES.items():
                if name in text and not _covers(named, home[who], roles[who] or "", village):
                    wrong.append(f"LEAK {who} {action.incoming}: {name}")
            await service.handle(chats[who], Incoming(text="/thoat"))  # leave any survey it started
    assert tried >= len(ROLES) * 40
    assert not wrong, "\n".join(wrong)


def test_the_access_matrix_is_the_router_table() -> None:
    """The matrix docs/architecture.md prints: every command of the table, for every role and for someone
    not registered; a stranger reaches only registration, in a private chat."""
    router = Router()
    names = {r.name for r in router.commands()}
    assert {"new", "report", "invite", "invite_staff", "bind", "subscribe"} <= names
    strangers = {n for n in names if router.allowed(None, n)}
    assert strangers == {"start", "register"}
    assert not any(router.allowed(None, n, group=True) for n in names)
    assert {n for n in names if router.allowed(Role.VILLAGE_HEAD, n, group=True)} == {
        "help", "whoami", "submit_report"}  # no report goes to a village: nothing to /theodoi
    assert router.allowed(Role.COMMUNE, "bind", group=True) and not router.allowed(Role.COMMUNE, "bind")
    assert not router.allowed(Role.VILLAGE_HEAD, "bind", group=True)
    assert [n for n in names if router.allowed(Role.ADMIN, n) and not router.allowed(Role.PROVINCE, n)] == [
        "invite_staff"]


async def test_a_new_command_is_one_router_row_its_handler_and_its_words(service: ChatApp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The worked example of docs/architecture.md: /tonghop for commune and district officers."""
    from bot import router as router_module
    from bot.context import Ctx
    from bot.handlers.guide import show
    from core.chat import commands
    from core.chat.messages import OutMessage
    from core.i18n import catalog, t

    async def summary(ctx: Ctx, arg: str | None) -> list[OutMessage]:
        unit = await ctx.unit()
        return [OutMessage(t("summary", unit=unit.name if unit else "-", done=0))]

    words = {"cmd_summary": ["/tonghop", "/summary", "tổng hợp"], "help_summary": "Tổng số hộ đã nộp trong địa bàn",
             "summary": "📊 {unit}: đã nộp {done} phiếu."}
    monkeypatch.setattr(catalog(), "messages", {**catalog().messages, **words})
    commands._words.cache_clear()
    try:
        row = router_module.Route("summary", summary, roles=frozenset({Role.COMMUNE, Role.DISTRICT}),
                                  denied="report_not_allowed", menu=True)
        router = Router((*router_module.ROUTES, row))
        assert router.missing_words() == []
        assert router.allowed(Role.COMMUNE, "summary") and not router.allowed(Role.VILLAGE_HEAD, "summary")
        assert ("tonghop", "Tổng số hộ đã nộp trong địa bàn") in router.menu()
        service.router = router
        from tests.households import make_village_head

        async with service.db.transaction() as s:
            commune = await s.scalar(select(Unit).where(Unit.configuration == "65", Unit.code == "6202"))
            await ensure_user(s, "test", "clerk", "Cán bộ", "commune", commune.id)  # type: ignore[union-attr]
        clerk, head = ChatRef("test", "clerk", "clerk"), await make_village_head(service)
        typed = (await service.handle(clerk, Incoming(text="/tonghop"))).messages[0].text
        assert "📊 Xã Ba Sơn: đã nộp 0 phiếu." in typed
        assert "📊" in (await service.handle(clerk, Incoming(payload="c:summary"))).messages[0].text
        assert "📊" in (await service.handle(clerk, Incoming(text="tổng hợp"))).messages[0].text
        refused = (await service.handle(head, Incoming(text="/tonghop"))).messages[0].text
        assert refused == t("report_not_allowed")
        help_text = (await service.handle(clerk, Incoming(text="/huongdan"))).messages[0].text
        assert "/tonghop: Tổng số hộ đã nộp trong địa bàn" in help_text and show is not None
        head_help = (await service.handle(head, Incoming(text="/huongdan"))).messages[0].text
        assert "/tonghop" not in head_help
    finally:
        commands._words.cache_clear()


async def test_a_unit_is_named_by_code_or_name_and_an_unknown_one_is_said_so(service: ChatApp) -> None:
    """Found in the fresh-clone trial: `/baocao 7.1 ba son` or an unknown code answered «không
    thuộc địa bàn», as if the unit were someone else's."""
    from tests.test_people import say, staff

    province = await staff(service, "p1", "province", None, "province")
    assert (await say(service, province, "/tiendo ba son")).splitlines()[0].endswith(": Xã Ba Sơn")
    assert (await say(service, province, "/tiendo 6202")).splitlines()[0].endswith(": Xã Ba Sơn")
    assert "Không tìm thấy đơn vị «9999»" in await say(service, province, "/baocao 7.1 9999")
    assert "Đang lập" in await say(service, province, "/baocao 7.1 ba son")
    commune = await staff(service, "c1", "commune", "6202", "commune")
    assert await say(service, commune, "/tiendo 6040") == "Đơn vị này không thuộc địa bàn bạn phụ trách."
    offered = await service.handle(commune, Incoming(text="/baocao 7.1"))
    assert offered.messages[0].buttons[0][0].text == "/baocao 7.1 6202"
