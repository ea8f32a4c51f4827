"""The conversation engine on its own: every move, no database, no platform."""

import re
from itertools import pairwise
from typing import Any

import pytest

from core.chat.messages import Command, OutMessage
from core.chat.payloads import unpack
from core.conversation.engine import ASK, PAUSED, REVIEW, SUBMITTED, EngineState, Step, SurveyEngine
from core.datafiles import DataFiles
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for


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
    assert text.startswith("Câu 1 · Phần 1/4 (1/5)\n") and "Họ và tên chủ hộ" in text
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


def test_member_count_creates_roster_slots_and_member_one_is_the_named_head(engine: SurveyEngine) -> None:
    step = engine.start({"chu_ho_ten": "Hoàng Văn Minh"}, EngineState(cursor="so_thanh_vien"))
    assert step.messages[0].text.startswith("Câu 7 · Phần 2/4 (2/2)\n")
    step = type_(engine, step, "3")
    assert step.state.cursor == "tv.1.gioi_tinh"  # member 1 is the head: name and relation are known
    lines = step.messages[0].text.split("\n")
    assert lines[0].startswith("Câu 8 · Phần 3/4 · Thành viên 1/3 (1/")
    assert lines[1] == "👤 Hoàng Văn Minh (chủ hộ)" and lines[2] == "Giới tính của thành viên thứ 1"


def test_every_member_question_names_the_member(engine: SurveyEngine) -> None:
    step = engine.start({"chu_ho_ten": "Hoàng Văn Minh", "so_thanh_vien": 2}, EngineState(cursor="tv.2.ho_ten"))
    assert "👤 Thành viên thứ 2" in step.messages[0].text  # not named yet
    step = type_(engine, step, "Nông Thị Hoa")
    assert step.state.cursor == "tv.2.quan_he" and "👤 Nông Thị Hoa\n" in step.messages[0].text
    step = type_(engine, step, "vợ/chồng")
    for _ in range(3):  # gioi_tinh, nam_sinh, co_bhyt: every one says whom it is about
        assert step.state.cursor.startswith("tv.2.") and "👤 Nông Thị Hoa (vợ/chồng)" in step.messages[0].text
        step = type_(engine, step, answer_for(POOR, step.state.cursor))


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
    assert resumed.state.cursor == "chu_ho_cccd" and resumed.messages[0].text.startswith("Câu 2 · Phần 1/4 (2/5)")


def test_review_edit_and_confirm(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    review_text = "\n".join(m.text for m in step.messages)
    assert "XEM LẠI PHIẾU" in review_text and "1. Họ và tên chủ hộ: Hoàng Văn Minh" in review_text
    assert "Hộ nuôi bao nhiêu con trâu, bò, ngựa?: 1-2 con" in "\n".join(all_pages(engine, step))
    edit = type_(engine, step, "1")  # the review came at the end, nothing waits: a number edits
    assert edit.state.cursor == "chu_ho_ten" and edit.state.editing
    back_in_review = type_(engine, edit, "Hoàng Văn Mạnh")
    assert back_in_review.state.mode == REVIEW
    assert back_in_review.changes[0].old == "Hoàng Văn Minh"
    [note] = back_in_review.messages  # only the edited line, not the whole review again
    assert note.text.startswith("✅ Đã lưu câu 1: «Họ và tên chủ hộ» Hoàng Văn Mạnh")
    assert "2. Số căn cước" not in note.text and "c:confirm" in payloads(note)
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


# ----- review mode and navigation (issue 12) ----------------------------------------------------

def payloads(message: OutMessage) -> list[str]:
    return [b.payload for row in message.buttons for b in row]


def press(engine: SurveyEngine, step: Step, data: str) -> Step:
    """A navigation button, the way the service routes it."""
    command = unpack(data)
    assert isinstance(command, Command), data
    return engine.handle_command(step.state, step.answers, command)


def all_pages(engine: SurveyEngine, step: Step) -> list[str]:
    """The review's lines over every page, turning pages with the «Trang sau» button."""
    lines: list[str] = []
    for _ in range(20):
        message = step.messages[-1]
        lines += message.text.split("\n")
        following = [p for p in payloads(message) if p == f"c:review:{step.state.page + 1}"]
        if not following:
            return lines
        step = press(engine, step, following[0])
    raise AssertionError("the review never ends")


def walk_to(engine: SurveyEngine, profile: dict[str, Any], key: str) -> Step:
    step = engine.start({})
    while step.state.cursor != key:
        step = type_(engine, step, answer_for(profile, step.state.cursor))
    return step


def test_a_number_typed_in_a_mid_survey_review_answers_the_current_question(engine: SurveyEngine) -> None:
    step = walk_to(engine, POOR, "so_thanh_vien")
    review = cmd(engine, step, "review")
    assert review.state.mode == REVIEW and review.state.return_to == "so_thanh_vien"
    text = review.messages[0].text
    assert "Bạn đang trả lời câu 7: «Số thành viên" in text and "👉 7. Số thành viên" in text
    assert "c:resume" in payloads(review.messages[0]) and "c:confirm" not in payloads(review.messages[0])
    answered = type_(engine, review, "2")
    assert answered.state.mode == ASK and not answered.state.editing
    assert answered.answers["so_thanh_vien"] == 2 and answered.state.cursor == "tv.1.gioi_tinh"
    assert answered.answers["chu_ho_cccd"] == "020180001234"  # câu 2 untouched
    # A choice typed by number in the review is the choice of the waiting question too.
    review = cmd(engine, walk_to(engine, POOR, "dan_toc"), "review")
    assert type_(engine, review, "2").answers["dan_toc"] == "tay"
    # A bad answer is re-asked as the question (with its reason), not as the review.
    early = cmd(engine, cmd(engine, walk_to(engine, POOR, "so_thanh_vien"), "review"), "confirm")
    assert not early.submit and early.state == EngineState(cursor="so_thanh_vien")
    assert type_(engine, early, "2").messages[0].text.startswith("Câu 8 · Phần 3/4")  # a plain walk, no "saved" note
    bad = type_(engine, cmd(engine, walk_to(engine, POOR, "so_thanh_vien"), "review"), "nhiều lắm")
    assert bad.state.mode == ASK and bad.state.cursor == "so_thanh_vien" and "⚠️" in bad.messages[0].text


@pytest.mark.parametrize("how", ["resume", "back", "button"])
def test_resume_back_or_a_press_from_the_review_return_to_the_question(engine: SurveyEngine, how: str) -> None:
    step = walk_to(engine, POOR, "dan_toc")
    review = cmd(engine, step, "review")
    if how == "button":
        back = engine.handle_button(review.state, review.answers, "dan_toc", "nung")
        assert not back.refused and back.answers["dan_toc"] == "nung" and back.state.cursor == "dia_chi"
        return
    back = cmd(engine, review, how)
    assert back.state == EngineState(cursor="dan_toc") and "Dân tộc của chủ hộ" in back.messages[0].text
    assert back.changes == [] and back.answers == step.answers


def test_pause_in_the_review_resumes_at_the_waiting_question(engine: SurveyEngine) -> None:
    review = cmd(engine, walk_to(engine, POOR, "dan_toc"), "review")
    resumed = cmd(engine, cmd(engine, review, "pause"), "resume")
    assert resumed.state.cursor == "dan_toc" and resumed.state.mode == ASK


def test_an_explicit_edit_mid_survey_comes_back_to_the_waiting_question(engine: SurveyEngine) -> None:
    step = walk_to(engine, POOR, "so_thanh_vien")
    review = cmd(engine, step, "review")
    edit = press(engine, review, "c:edit:1")
    assert edit.state.cursor == "chu_ho_ten" and edit.state.editing
    done = type_(engine, edit, "Hoàng Văn Mạnh")
    assert done.changes[0].new == "Hoàng Văn Mạnh" and done.state == EngineState(cursor="so_thanh_vien")
    [question] = done.messages
    assert question.text.startswith("✅ Đã lưu câu 1: «Họ và tên chủ hộ» Hoàng Văn Mạnh\n")
    assert "Số thành viên của hộ" in question.text and "XEM LẠI" not in question.text
    typed = engine.handle_command(step.state, step.answers, Command("edit", "3"))  # /sua 3 without the review
    assert type_(engine, typed, "nùng").state == EngineState(cursor="so_thanh_vien")


def test_review_is_paged_within_15_lines(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    slots = engine.view(step.answers).slots
    seen: list[int] = []
    page = step
    for number in range(1, 10):
        [message] = page.messages
        assert len(message.text.split("\n")) <= 15, message.text
        assert f"trang {number}/" in message.text.split("\n")[0]
        seen += [int(m.group(1)) for m in re.finditer(r"^(\d+)\. ", message.text, re.M)]
        assert (f"c:review:{number - 1}" in payloads(message)) == (number > 1)  # «Trang trước»
        if f"c:review:{number + 1}" not in payloads(message):
            break
        page = press(engine, page, f"c:review:{number + 1}")
    assert seen == list(range(1, len(slots) + 1)) and number > 2
    back = press(engine, page, f"c:review:{number - 1}")
    assert back.state.page == number - 1 and f"trang {number - 1}/" in back.messages[0].text
    typed = cmd(engine, step, "review", "2")  # /xemlai 2 is the same as the button
    assert typed.messages[0].text == press(engine, step, "c:review:2").messages[0].text


def test_an_error_in_the_review_resends_one_short_message(engine: SurveyEngine) -> None:
    step = fill(engine, POOR)
    for wrong in ("999", "hello"):
        [message] = type_(engine, step, wrong).messages
        assert message.text.startswith("⚠️") and len(message.text.split("\n")) <= 3
        assert "1. Họ và tên chủ hộ" not in message.text and "c:confirm" in payloads(message)


def test_confirm_is_offered_only_when_every_required_question_is_answered(engine: SurveyEngine) -> None:
    full = fill(engine, POOR)
    assert "c:confirm" in payloads(full.messages[0])
    answers = {k: v for k, v in full.answers.items() if k not in ("dan_toc", "nha_tieu")}
    review = engine.start(answers, EngineState(mode=REVIEW))
    message = review.messages[0]
    assert "c:confirm" not in payloads(message)
    assert "Còn 2 câu bắt buộc chưa trả lời, đầu tiên là câu 3: Dân tộc của chủ hộ." in message.text
    goto = next(b for row in message.buttons for b in row if b.label == "➡️ Đến câu 3")
    assert goto.payload == "c:edit:3" and goto.text == "/sua 3"
    assert not cmd(engine, review, "confirm").submit
    step = press(engine, review, goto.payload)
    step = type_(engine, step, "tày")
    assert step.state.cursor == "nha_tieu"  # the next missing one, not the question after câu 3
    step = type_(engine, step, "6")
    assert step.state.mode == REVIEW and "c:confirm" in payloads(step.messages[-1])
    assert cmd(engine, step, "confirm").submit
    # An optional question left unanswered does not hold the submission back.
    optional = {k: v for k, v in full.answers.items() if k != "ghi_chu"}
    assert "c:confirm" in payloads(engine.start(optional, EngineState(mode=REVIEW)).messages[0])


PROGRESS = re.compile(r"^Câu (\d+) · Phần (\d+)/(\d+) (?:· Thành viên (\d+)/(\d+) )?\((\d+)/(\d+)\)$")


@pytest.mark.parametrize("profile", [POOR, NEAR_POOR, NOT_POOR])
def test_progress_never_recedes_over_a_whole_phieu_b(engine: SurveyEngine, profile: dict[str, Any]) -> None:
    step, seen, numbers = engine.start({}), [], []
    while step.state.mode != REVIEW:
        lines = step.messages[0].text.split("\n")
        match = PROGRESS.match(lines[2] if lines[0].startswith("✓") else lines[0])  # after a choice's echo
        assert match, step.messages[0].text
        number, part, parts, member, members, i, n = (int(g) if g else 0 for g in match.groups())
        assert 1 <= i <= n and parts == 4
        assert not numbers or number > numbers[-1], (numbers[-1], number)  # the review's numbering, rising
        numbers.append(number)
        seen.append((part, member, i, n, members))
        step = type_(engine, step, answer_for(profile, step.state.cursor))
    positions = [s[:3] for s in seen]
    assert positions == sorted(set(positions)), positions  # every step moves forward
    for before, after in pairwise(seen):
        if before[:2] == after[:2]:  # same section and member: the total can only shrink
            assert after[3] <= before[3], (before, after)
    roster = [s for s in seen if s[1]]
    assert {s[4] for s in roster} == {len(profile["members"])}
    assert [s[1] for s in roster] == sorted(s[1] for s in roster) and roster[-1][1] == len(profile["members"])


def test_a_press_on_an_answered_question_is_refused_and_says_so(engine: SurveyEngine) -> None:
    step = engine.start({"chu_ho_ten": "A", "chu_ho_cccd": None}, EngineState(cursor="dan_toc"))
    typed = type_(engine, step, "Nùng")
    assert typed.answers["dan_toc"] == "nung"
    pressed = engine.handle_button(typed.state, typed.answers, "dan_toc", "tay")  # the old message's button
    assert pressed.refused and pressed.changes == [] and pressed.answers["dan_toc"] == "nung"
    assert "câu hỏi cũ" in pressed.messages[0].text and pressed.state.cursor == "dia_chi"
    fine = engine.handle_button(step.state, step.answers, "dan_toc", "tay")
    assert not fine.refused and fine.changes[0].new == "tay"
    assert engine.handle_button(step.state, step.answers, "dan_toc", "martian").refused


def test_state_json_is_backward_compatible() -> None:
    old = EngineState.from_json({"cursor": "dan_toc", "mode": "ask", "editing": False})
    assert old == EngineState(cursor="dan_toc") and old.return_to is None and old.page == 0
    state = EngineState(mode=REVIEW, return_to="dan_toc", page=2)
    assert EngineState.from_json(state.to_json()) == state
    assert EngineState.from_json(None) == EngineState()
    assert EngineState.from_json({"mode": "review", "page": "x"}).page == 0


def test_a_remembered_view_is_used_only_for_the_very_answers_it_was_made_for(engine: SurveyEngine) -> None:
    """The survey session hands the previous step's view to the next step's engine
    (bot/conversations/survey.py); a view made for other answers must never be used."""
    few = fill(engine, POOR).answers
    view = engine.view(few)
    fresh = SurveyEngine(engine.survey, engine.context)
    fresh.remember(few, view)
    assert fresh.view(dict(few)) is view  # equal answers: reused
    changed = {**few, "so_thanh_vien": 1}
    other = fresh.view(changed)
    assert other is not view and len(other.slots) < len(view.slots)  # recomputed: fewer members asked
    assert fresh.view(changed) is other


def test_a_question_has_one_number_in_its_header_the_review_and_edit(engine: SurveyEngine) -> None:
    """Found in the fresh-clone trial: the header said «câu 2/9» of a member while the review
    listed the same question as 55; the header now leads with the review's number."""
    step = walk_to(engine, POOR, "tv.1.gioi_tinh")
    number = int(step.messages[0].text.split(" · ")[0].removeprefix("Câu "))
    review = "\n".join(m.text for m in cmd(engine, step, "review").messages)
    assert f"👉 {number}. Giới tính" in review, review
    edited = cmd(engine, cmd(engine, step, "review"), "edit", str(number))
    assert edited.state.cursor == "tv.1.gioi_tinh"


def test_edit_with_a_word_says_it_takes_a_number(engine: SurveyEngine) -> None:
    """Found in the fresh-clone trial: '/sua abc' showed the review again with no word why."""
    step = walk_to(engine, POOR, "so_thanh_vien")
    said = cmd(engine, step, "edit", "abc").messages[0].text
    assert "hãy gõ số thứ tự của câu cần sửa" in said and "/sua 12" in said
    assert cmd(engine, step, "edit", "1").state.cursor == "chu_ho_ten"
