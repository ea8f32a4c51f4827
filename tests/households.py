"""Household profiles with a known classification, and a driver that answers whatever the
engine asks from a profile. Answers are typed the way a village head would type them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.app import ChatApp
from core.chat.messages import ChatRef, Incoming
from core.storage.models import Conversation, Household, Unit
from core.storage.repo import ensure_user
from core.units.loader import add_village

BASE = {
    "chu_ho_ten": "Hoàng Văn Minh", "chu_ho_cccd": "020180001234", "dan_toc": "Tày",
    "dia_chi": "/boqua", "so_dien_thoai": "0912 345 678", "dien_dau_ky": "không thuộc diện",
    "nha_tuong_ben": "có", "nha_khung_ben": "co", "nha_mai_ben": "Có", "dien_tich_nha": "60",
    "nguon_nuoc": "1", "nha_tieu": "tu hoai", "dung_internet": "có", "co_phuong_tien_tt": "có",
    "nghe_loa": "có", "xu_ly_rac": "1", "ghi_chu": "/boqua",
    # B1 (core/classification/b1/tt07_2021.yaml); no income assessment, so B1 decides.
    "b1_loai_nha": "ban kien co", "b1_tivi": "có", "b1_tu_lanh": "không", "b1_may_giat": "không",
    "b1_dieu_hoa": "không", "b1_binh_nong": "không", "b1_may_tinh": "không", "b1_o_to": "không",
    "b1_xe_may": "1 chiếc", "b1_dat_sx": "Dưới 0,5 ha", "b1_trau_bo": "1-2 con", "b1_dien_luoi": "có",
    "thu_nhap_tham_dinh": "không", "da_thoat_ngheo": "không", "co_nguoi_co_cong": "không",
    "khong_kha_nang_ld": "không", "nguyen_nhan": "Không có vốn sản xuất, kinh doanh",
}
ADULT = {"ho_ten": "Nông Thị Hoa", "quan_he": "1", "gioi_tinh": "Nữ", "nam_sinh": "1982", "cccd": "020182005678",
         "co_bhyt": "có",
         "dang_di_hoc": "không", "trinh_do": "thpt", "viec_lam": "tu lam", "tro_cap": "không"}
HEAD = {**ADULT, "gioi_tinh": "nam", "nam_sinh": "1980"}
CHILD = {"ho_ten": "Hoàng Văn An", "quan_he": "con", "gioi_tinh": "nam", "nam_sinh": "2014", "co_bhyt": "có",
         "suy_dinh_duong": "không", "dang_di_hoc": "có"}

# B1 by hand from the rural scheme nt_tdmnpb of tt07_2021.yaml, for 3 members aged 46, 44, 12
# (1 dependant, nobody on a labour contract): base 40 + size 15 + dependants 5 + semi-durable
# house 10 + TV 10 + 1 motorbike 10 + land < 0.5 ha 5 + 1-2 cattle 10 + grid power 5 + internet 5
# = 115.
# 4 deprivations (BHYT, children's schooling, water, toilet) and B1 115 <= 140: poor (rural).
POOR = {**BASE, "so_thanh_vien": "3", "nguon_nuoc": "song suoi", "nha_tieu": "6",
        "members": [{**HEAD, "co_bhyt": "không"}, ADULT, {**CHILD, "dang_di_hoc": "không"}]}
# 115 + fridge 15 + washing machine 10 = 140, exactly at the rural line, 1 deprivation: near-poor.
# Each profile has its own ID numbers: one number in two households is caught at submit (issue 26).
NEAR_POOR = {**BASE, "chu_ho_cccd": "020180002345", "so_thanh_vien": "3", "nha_tieu": "khong co",
             "b1_tu_lanh": "có", "b1_may_giat": "có", "members": [HEAD, {**ADULT, "cccd": "020182006789"}, CHILD]}
# 2 members aged 46, 44: rural 40 + size 25 + no dependant 10 + house 10 + fridge 15 + washing
# machine 10 + water heater 5 + motorbike 10 + land 5 + cattle 10 + grid 5 = 145 > 140 with 5
# deprivations: neither poor nor near-poor. Urban scheme thanh_thi: 50 + 30 + 10 + 10 + 10 + 10
# + 5 + 5 + 5 + 10 = 145 <= 175: poor in a ward.
NOT_POOR = {**BASE, "so_thanh_vien": "2", "nguon_nuoc": "song suoi", "nha_tieu": "6",
            "dung_internet": "không", "co_phuong_tien_tt": "không", "nghe_loa": "không", "b1_tivi": "không",
            "b1_tu_lanh": "có", "b1_may_giat": "có", "b1_binh_nong": "có", "chu_ho_cccd": "020180003456",
            "members": [{**HEAD, "co_bhyt": "không"}, {**ADULT, "cccd": "020182007890"}]}


def answer_for(profile: dict[str, Any], key: str) -> str:
    if "." in key:
        _, index, qid = key.split(".")
        return profile["members"][int(index) - 1][qid]
    return profile[key]


async def make_village_head(service: ChatApp, user: str = "u1", commune_code: str = "6202",
                            village: str = "Thôn Nà Pàn") -> ChatRef:
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(
            Unit.configuration == "65", Unit.level == "commune", Unit.code == commune_code))
        unit = await add_village(s, commune, village)
        await ensure_user(s, "test", user, f"Trưởng thôn {user}", "village_head", unit.id)
    return ChatRef("test", user, user)


async def cursor(service: ChatApp, chat: ChatRef) -> str | None:
    """The question the household open in this chat stands at (its position is the household's)."""
    async with service.db.transaction() as s:
        conv = await s.scalar(select(Conversation).where(
            Conversation.channel == chat.channel, Conversation.chat_id == chat.chat_id))
        household = await s.get(Household, conv.household_id) if conv and conv.household_id else None
        return (household.state or {}).get("cursor") if household else None


async def run_survey(service: ChatApp, chat: ChatRef, profile: dict[str, Any], form: str = "phieu_b",
                     confirm: bool = True) -> list[str]:
    """Take a whole survey through the service; returns the texts of the last reply."""
    await service.handle(chat, Incoming(text=f"/hoimoi {form}"))
    for _ in range(200):
        key = await cursor(service, chat)
        if key is None:
            break
        reply = await service.handle(chat, Incoming(text=answer_for(profile, key)))
        if await cursor(service, chat) == key:
            raise AssertionError(f"answer for {key} refused: {reply.messages[0].text}")
    else:  # pragma: no cover - a loop means the engine stopped advancing
        raise AssertionError("survey did not reach the review")
    if not confirm:
        return []
    reply = await service.handle(chat, Incoming(text="/xacnhan"))
    if "Chưa nộp được vì số CCCD trùng" in reply.messages[0].text:  # a profile reused in one review
        reply = await service.handle(chat, Incoming(text="/xacnhan hồ sơ mẫu dùng lại trong thử nghiệm"))
    return [m.text for m in reply.messages]


def questions_of(forms: dict[str, Any]) -> dict[str, Any]:
    """Every question of every form by id (member questions under their bare id)."""
    return {q.id: q for f in forms.values()
            for q in [*f.household_questions(), *(q for g in f.groups() for q in g.questions)]}


async def survey_steps(service: ChatApp, chat: ChatRef, profile: dict[str, Any]) -> Any:
    """(key, question, typed answer) for the question the conversation stands at, until the
    survey reaches its review; the caller answers each one its own way (typing, a button)."""
    questions = questions_of(service.forms)
    for _ in range(200):
        key = await cursor(service, chat)
        if key is None:
            return
        yield key, questions[key.split(".")[-1]], answer_for(profile, key)
    raise AssertionError("survey did not reach the review")
