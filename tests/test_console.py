"""`rasoat chat` as a newcomer would run it: a real process on a real SQLite file, killed
mid-survey and started again."""

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.conversation.engine import REVIEW, SurveyEngine
from core.datafiles import DataFiles
from tests.households import NEAR_POOR, NOT_POOR, POOR, answer_for

ROOT = Path(__file__).parents[1]


class ChatProcess:
    def __init__(self, tmp_path: Path, *extra: str) -> None:
        env = {**os.environ, "RASOAT_DATA_DIR": str(tmp_path / "data"), "REVIEW_YEAR": "2026",
               "PYTHONUNBUFFERED": "1"}
        env.pop("DATABASE_URL", None)
        env.pop("TELEGRAM_BOT_TOKEN", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat", "--user", "ts", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            text=True, encoding="utf-8",
        )
        self.chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        while ch := self.proc.stdout.read(1):
            self.chunks.put(ch)
        self.chunks.put(None)

    def until_prompt(self, timeout: float = 30) -> str:
        out = ""
        while not (out.endswith("\n> ") or out == "> "):
            ch = self.chunks.get(timeout=timeout)
            if ch is None:
                break
            out += ch
        return out

    def send(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.until_prompt()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def send_and_close(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.close()

    def close(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        out = ""
        while (ch := self.chunks.get(timeout=30)) is not None:
            out += ch
        self.proc.wait(timeout=10)
        return out


def typed_answers(data: DataFiles, profile: dict) -> list[str]:
    """What a village head types for a profile, in the order the engine asks."""
    engine = SurveyEngine(data.forms["phieu_b"], {"review_year": 2026})
    step, typed = engine.start({}), []
    while step.state.mode != REVIEW:
        typed.append(answer_for(profile, step.state.cursor))
        step = engine.handle_text(step.state, step.answers, typed[-1])
    return typed


FIRST_RUN = ("--name", "Lý Văn Tư", "--commune", "6202", "--village", "Thôn Nà Pàn")


def test_a_newcomer_completes_a_survey_in_the_console(tmp_path: Path, data: DataFiles) -> None:
    chat = ChatProcess(tmp_path, *FIRST_RUN)
    try:
        welcome = chat.until_prompt()
        assert "Đã ghi nhận: Lý Văn Tư" in welcome and "/hoimoi" in welcome
        menu = chat.send("/hoimoi")
        assert "/hoimoi phieu_b" in menu
        first = chat.send("/hoimoi phieu_b")
        assert "Câu 1 · Phần 1/4 (1/5)" in first and "Họ và tên chủ hộ" in first
        assert "⚠️" in chat.send("/boqua")  # a required question cannot be skipped
        out = ""
        for text in typed_answers(data, POOR):
            out = chat.send(text)
        assert "XEM LẠI PHIẾU" in out and "Xác nhận" in out
        result = chat.send("/xacnhan")
        assert "Kết quả phân loại: HỘ NGHÈO" in result
        assert "Chỉ số 4: Bảo hiểm y tế" in result and "Điểm B1 = 115" in result
    finally:
        tail = chat.close()
    assert "Tạm biệt" in tail


@pytest.mark.parametrize("kill_after", [1, 9, 27])
def test_killed_mid_survey_resumes_at_the_same_question(tmp_path: Path, data: DataFiles, kill_after: int) -> None:
    typed = typed_answers(data, POOR)
    chat = ChatProcess(tmp_path, *FIRST_RUN)
    chat.until_prompt()
    chat.send("/hoimoi phieu_b")
    for text in typed[:kill_after]:
        last = chat.send(text)
    expected_question = last.strip().splitlines()[0:4]
    chat.kill()

    again = ChatProcess(tmp_path)
    try:
        resumed = again.until_prompt()
        assert "khảo sát dở hộ #1" in resumed
        progress = next(line for line in expected_question if line.startswith("Câu "))
        assert progress in resumed
        out = ""
        for text in typed[kill_after:]:
            out = again.send(text)
        assert "XEM LẠI PHIẾU" in out
        assert "1. Họ và tên chủ hộ: Hoàng Văn Minh" in out or "Hoàng Văn Minh" in again.send("/xemlai")
        assert "HỘ NGHÈO" in again.send("/xacnhan")
    finally:
        again.close()


def keyed_answers(data: DataFiles, profile: dict) -> list[tuple[str, str]]:
    """(question key, what the village head types) in the order the engine asks."""
    engine = SurveyEngine(data.forms["phieu_b"], {"review_year": 2026})
    step, out = engine.start({}), []
    while step.state.mode != REVIEW:
        key = step.state.cursor
        out.append((key, answer_for(profile, key)))
        step = engine.handle_text(step.state, step.answers, out[-1][1])
    return out


def test_ctrl_c_says_goodbye_at_once_and_thoat_only_leaves_the_form(tmp_path: Path) -> None:
    chat = ChatProcess(tmp_path, *FIRST_RUN)
    chat.until_prompt()
    chat.send("/hoimoi phieu_b")
    left = chat.send("/thoat")
    assert "Đã đóng phiếu" in left and chat.proc.poll() is None  # /thoat leaves the form, not the program
    chat.proc.send_signal(signal.SIGINT)
    out = chat.close()
    assert "Đã dừng (Ctrl+C)" in out and "chưa được gửi" in out and "Traceback" not in out
    assert chat.proc.returncode == 130
    again = ChatProcess(tmp_path)
    again.until_prompt()
    assert "Tạm biệt" in again.send_and_close("/ketthuc")


def test_a_village_head_who_makes_every_mistake_ends_with_every_household_right(
    tmp_path: Path, data: DataFiles
) -> None:
    """Typed '2' in a mid-survey review, three drafts at once, Ctrl+C, a restart: at the end every
    household is submitted with the answers meant and the right classification."""
    import sqlite3

    plans = {1: keyed_answers(data, POOR), 2: keyed_answers(data, NEAR_POOR), 3: keyed_answers(data, NOT_POOR)}
    members = next(i for i, (key, _) in enumerate(plans[1]) if key == "so_thanh_vien")
    chat = ChatProcess(tmp_path, *FIRST_RUN)
    chat.until_prompt()
    chat.send("/hoimoi phieu_b")
    for _, text in plans[1][:members]:
        chat.send(text)
    review = chat.send("/xemlai")  # mid-survey: the review remembers the question waiting
    assert "Bạn đang trả lời câu" in review
    wrong = chat.send("2")  # meant "edit câu 2", but it answers the waiting question: 2 members
    assert "Thành viên 1/2" in wrong
    assert "Số thành viên" in chat.send("/quaylai")
    chat.send(plans[1][members][1])  # corrected to 3
    for _, text in plans[1][members + 1:members + 4]:
        chat.send(text)
    done = {1: members + 4, 2: 6, 3: 2}
    offered = chat.send("/hoimoi")
    assert "1 phiếu làm dở" in offered and "Tiếp tục hộ #1" in offered
    for hid in (2, 3):
        chat.send("/hoimoi phieu_b")
        for _, text in plans[hid][:done[hid]]:
            chat.send(text)
    chat.proc.send_signal(signal.SIGINT)  # the battery warning: Ctrl+C
    assert "Đã dừng (Ctrl+C)" in chat.close()

    again = ChatProcess(tmp_path)
    resumed = again.until_prompt()
    assert "khảo sát dở hộ #3" in resumed
    listing = again.send("/danhsach")
    assert all(f"#{hid} " in listing for hid in (1, 2, 3)) and listing.count("khảo sát dở") == 3
    for hid in (1, 2, 3):
        assert f"Mở hộ #{hid}" in again.send(f"/mo {hid}")
        for _, text in plans[hid][done[hid]:]:
            out = again.send(text)
        assert "XEM LẠI PHIẾU" in out
        again.send("/xacnhan")
    again.send_and_close("/ketthuc")
    db = sqlite3.connect(tmp_path / "data" / "rasoat.db")
    try:
        outcomes = dict(db.execute("SELECT id, outcome FROM households WHERE status = 'submitted'").fetchall())
        members_a = db.execute("SELECT value FROM answers WHERE household_id = 1 AND key = 'so_thanh_vien'").fetchone()
    finally:
        db.close()
    assert outcomes == {1: "poor", 2: "near_poor", 3: "not_poor"}
    assert members_a == ("3",) or members_a == (3,)
