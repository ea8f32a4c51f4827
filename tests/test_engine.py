"""The conversation engine on its own: every move, no database, no platform."""

from typing import Any

import pytest

from core.app import DataFiles
from core.conversation.engine import PAUSED, REVIEW, SUBMITTED, EngineState, Step, SurveyEngine
from core.conversation.messages import Command
from tests.households import POOR, answer_for


@pytest.fixture
def engine(data: DataFiles) -> SurveyEngine:
    return SurveyEngine(data.forms["phieu_b"], {"review_year": 2026, "is_urban": False})


def type_(engine: SurveyEngine, step: Step, text: str) -> Step:
    return engine.handle_text(step.state, step.answers, text)


def cmd(engine: SurveyEngine, step: Step, name: str, arg: str | None = None) -> Step:
    return engine.handle_command(step.state, step.answers, Command(name, arg))


def fill(engine: SurveyEngine, profile: dict[str, Any]) -> Step:
    step = engine.start({})
    for _ in range(200):
        if step.state.mode == REVIEW:
            return step
        step = type_(engine, step, answer_for(profile, step.state.cursor))
    raise AssertionError(f"stuck at {step.state.cursor}: {step.messages[0].text}")


def test_first_question_shows_progress_and_no_back_button(engine: SurveyEngine) -> None:
    step = engine.start({})
    assert step.state.cursor == "chu_ho_ten"
    text = step.messages[0].text
    assert text.startswith("Câu 1/") and "Họ và tên chủ hộ" in text
    payloads = [b.payload for row in step.messages[0].buttons for b in row]
    assert "c:back" not in payloads and "c:pause" in payloads


def test_bad_answer_is_reasked_with_a_reason_and_nothing_changes(engine: SurveyEngine) -> None:
    step = engine.start({})
    step = type_(engine, step, "Hoàng Văn Minh")
    step = type_(engine, step, "/boqua" if False else "123")  # CCCD too short
    assert step.state.cursor == "chu_ho_cccd" and step.changes == []
    assert "⚠️" in step.messages[0].text and "12 chữ số" in step.messages[0].text


def test_money_range_and_forgiving_input(engine: SurveyEngine) -> None:
    answers = {"thu_nhap_tham_dinh": True}
    step = engine.start(answers, EngineState(cursor="thu_nhap_bq"))
    bad = type_(engine, step, "-5")
    assert bad.state.cursor == "thu_nhap_bq" and "từ 0 đ" in bad.messages[0].text
    good = type_(engine, step, "1tr5")
    assert good.answers["thu_nhap_bq"] == 1_500_000 and good.changes[0].new == 1_500_000


def test_year_cannot_be_in_the_future(engine: SurveyEngine) -> None:
    step = engine.start({"so_thanh_vien": 1}, EngineState(cursor="tv.1.nam_sinh"))
    assert type_(engine, step, "2030").state.cursor == "tv.1.nam_sinh"
    assert type_(engine, step, "1990").answers["tv.1.nam_sinh"] == 1990


def test_member_count_creates_roster_slots_and_progress_total_grows(engine: SurveyEngine) -> None:
    step = engine.start({}, EngineState(cursor="so_thanh_vien"))
    total_before = int(step.messages[0].text.split("\n")[0].split("/")[1])
    step = type_(engine, step, "3")
    assert step.state.cursor == "tv.1.gioi_tinh"  # member 1 is the head: name and relation are known
    assert "Thành viên thứ 1" in step.messages[0].text
    total_after = int(step.messages[0].text.split("\n")[0].split("/")[1])
    assert total_after > total_before


def test_back_then_forward_shows_current_answer_and_keep(engine: SurveyEngine) -> None:
    step = engine.start({})
    step = type_(engine, step, "Hoàng Văn Minh")
    step = cmd(engine, step, "back")
    assert step.state.cursor == "chu_ho_ten"
    assert "Hoàng Văn Minh" in step.messages[0].text
    step = cmd(engine, step, "keep")
    assert step.state.cursor == "chu_ho_cccd" and step.changes == []
    first = cmd(engine, cmd(engine, step, "back"), "back")
    assert first.state.cursor == "chu_ho_ten" and "câu đầu tiên" in first.messages[0].text


def test_required_question_cannot_be_skipped_optional_can(engine: SurveyEngine) -> None:
    step = engine.start({})
    assert cmd(engine, step, "skip").state.cursor == "chu_ho_ten"
    step = type_(engine, step, "Hoàng Văn Minh")
    skipped = cmd(engine, step, "skip")
    assert skipped.state.cursor == "dan_toc" and skipped.answers["chu_ho_cccd"] is None


def test_choice_buttons_and_stale_presses(engine: SurveyEngine) -> None:
    step = engine.start({"chu_ho_ten": "A", "chu_ho_cccd": None}, EngineState(cursor="dan_toc"))
    buttons = [b for row in step.messages[0].buttons for b in row if b.payload.startswith("a:")]
    assert buttons[1].payload == "a:dan_toc:tay" and buttons[1].text == "2"
    pressed = engine.handle_button(step.state, step.answers, "dan_toc", "tay")
    assert pressed.answers["dan_toc"] == "tay" and pressed.state.cursor == "dia_chi"
    stale = engine.handle_button(pressed.state, pressed.answers, "dan_toc", "kinh")
    assert stale.answers["dan_toc"] == "tay" and stale.changes == []
    assert "câu hỏi cũ" in stale.messages[0].text
    forged = engine.handle_button(step.state, step.answers, "dan_toc", "martian")
    assert forged.changes == [] and forged.state.cursor == "dan_toc"


def test_pause_and_resume_at_the_same_question(engine: SurveyEngine) -> None:
    step = type_(engine, engine.start({}), "Hoàng Văn Minh")
    paused = cmd(engine, step, "pause")
    assert paused.state.mode == PAUSED and "/tieptuc" in paused.messages[0].text
    resumed = cmd(engine, paused, "resume")
    assert resumed.state.cursor == "chu_ho_cccd" and resumed.messages[0].text.startswith("Câu 2/")


def test_review_edit_and_confirm(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    review_text = "\n".join(m.text for m in step.messages)
    assert "XEM LẠI PHIẾU" in review_text and "1. Họ và tên chủ hộ: Hoàng Văn Minh" in review_text
    assert "Hộ nuôi bao nhiêu con trâu, bò, ngựa?: 1-2 con" in review_text
    edit = type_(engine, step, "1")
    assert edit.state.cursor == "chu_ho_ten" and edit.state.editing
    back_in_review = type_(engine, edit, "Hoàng Văn Mạnh")
    assert back_in_review.state.mode == REVIEW
    assert back_in_review.changes[0].old == "Hoàng Văn Minh"
    done = cmd(engine, back_in_review, "confirm")
    assert done.submit and done.state.mode == SUBMITTED


def test_edit_that_adds_a_member_asks_the_new_members_questions_first(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    number = next(i for i, s in enumerate(engine.view(step.answers).slots, 1) if s.key == "so_thanh_vien")
    step = type_(engine, type_(engine, step, str(number)), "4")
    assert step.state.cursor == "tv.4.ho_ten"
    confirm = cmd(engine, step, "confirm")
    assert not confirm.submit and confirm.state.cursor == "tv.4.ho_ten"


def test_confirm_outside_review_only_shows_review(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    asking = type_(engine, step, "2")
    assert not cmd(engine, asking, "confirm").submit or asking.state.mode == REVIEW


def test_review_rejects_nonsense_and_out_of_range_numbers(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    assert type_(engine, step, "hello").state.mode == REVIEW
    out = type_(engine, step, "999")
    assert out.state.mode == REVIEW and "⚠️" in out.messages[-1].text
