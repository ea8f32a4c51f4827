"""Households for inspection tests, written straight into the database (the survey itself is
tested elsewhere): each is a profile of tests/households.py answered through the pure survey
engine once, given its own names, ID numbers and class at the start of the period, classified
with the review year's standard and stored with its answers, as a submitted survey would be.

`typed(...)` gives the same household as a village head (or an inspector re-surveying it) would
type it, so a re-check in chat can agree with the stored answers, or differ where a test says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.app import ChatApp
from core.chat.commands import parse_command
from core.classification.classify import classify
from core.conversation.engine import ASK, EngineState, SurveyEngine
from core.households import Status, record_classification
from core.procedure.models import Complaint
from core.storage.models import Answer, Household, Unit
from core.storage.sealed import seal_answer
from core.surveys.evaluate import outputs
from core.units.loader import add_village
from tests.households import answer_for

GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hải", "Hùng", "Khánh", "Lâm", "Minh", "Nam", "Nghĩa", "Phúc",
         "Quang", "Sơn", "Tâm", "Thành", "Thắng", "Trung", "Tuấn", "Vinh", "Xuân", "Yên", "Đức", "Hòa", "Hưng",
         "Lợi", "Long", "Phong", "Toàn")
PRIOR = {"poor": "1", "near_poor": "2", "none": "3"}  # typed numbers of the start-of-period choice


def typed(profile: dict[str, Any], n: int, prior: str, **changes: str) -> dict[str, Any]:
    """Household n of this profile as typed: its own names and ID numbers, its class at the
    start of the period, and any answer changed by key (`b1_tivi="không"`)."""
    given = GIVEN[n % len(GIVEN)]
    head = f"Lò Văn {given}"
    members = []
    for i, member in enumerate(profile["members"], 1):
        name = head if i == 1 else f"Hà Thị {given} {GIVEN[(n + i) % len(GIVEN)]}"
        members.append({**member, "ho_ten": name, **({"cccd": f"0201820{n:03d}{i:02d}"} if "cccd" in member else {})})
    out = {**profile, "chu_ho_ten": head, "chu_ho_cccd": f"0201800{n:05d}", "dien_dau_ky": PRIOR[prior],
           "members": members}
    out.update(changes)
    return out


def run_engine(service: ChatApp, profile: dict[str, Any], area: str = "rural") -> dict[str, Any]:
    """The answers the survey stores for a typed profile (the engine alone, no chat, no database)."""
    engine = SurveyEngine(service.forms["phieu_b"], {"review_year": service.settings.review_year,
                                                     "is_urban": area == "urban"})
    step = engine.start({}, EngineState())
    for _ in range(400):
        if step.state.mode != ASK or step.state.cursor is None:
            return step.answers
        text = answer_for(profile, step.state.cursor)
        cmd = parse_command(text) if text.startswith("/") else None
        before = step.state.cursor
        step = (engine.handle_command(step.state, step.answers, cmd) if cmd is not None
                else engine.handle_text(step.state, step.answers, text))
        if step.state.cursor == before and step.state.mode == ASK:
            raise AssertionError(f"answer for {before} refused: {step.messages[0].text if step.messages else ''}")
    raise AssertionError("the survey did not reach its review")


@dataclass
class World:
    commune: Unit
    village: Unit
    households: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> typed profile


async def seed(service: ChatApp, commune_code: str, village_name: str,
               rows: list[tuple[dict[str, Any], str]], start: int = 0) -> World:
    """Submitted households (profile, class at the start of the period) in a village of a commune."""
    async with service.db.transaction() as s:
        commune = await s.scalar(select(Unit).where(Unit.configuration == service.settings.units_configuration,
                                                    Unit.level == "commune", Unit.code == commune_code))
        assert commune is not None
        village = await add_village(s, commune, village_name)
        pack = (await service.data.standard(s, service.settings.review_year)).pack
        survey = service.forms["phieu_b"]
        world = World(commune, village)
        for n, (profile, prior) in enumerate(rows, start):
            person = typed(profile, n, prior)
            answers = run_engine(service, person)
            engine = SurveyEngine(survey, {"review_year": service.settings.review_year, "is_urban": False})
            view = engine.view(answers)
            household = Household(village_id=village.id, survey_id=survey.id, survey_version=survey.version,
                                  review_year=service.settings.review_year, status=Status.SUBMITTED,
                                  head_name=answers["chu_ho_ten"], area="rural")
            record_classification(household, classify(survey, pack, view, "rural"), pack, outputs(survey, view),
                                  survey.prior_classes)
            s.add(household)
            await s.flush()
            for key, value in answers.items():
                stored, lookup = seal_answer(s, key, value)
                s.add(Answer(household_id=household.id, key=key, value=stored, lookup=lookup))
            world.households[household.id] = person
    return world


async def complain(service: ChatApp, household_id: int, text: str = "Hộ này khá giả, không phải hộ nghèo") -> None:
    async with service.db.transaction() as s:
        s.add(Complaint(household_id=household_id, text=text))
