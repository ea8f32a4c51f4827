"""Every message the code asks for exists in locales/vi, so no user ever sees a KeyError."""

import re
from pathlib import Path

from bot.router import Router
from core.chat.commands import command_names, parse_command
from core.classification.classify import Outcome
from core.classification.pack import AREAS
from core.i18n import catalog
from core.surveys.model import ASKED_TYPES, QType

ROOT = Path(__file__).parents[1]


def test_every_literal_key_in_the_code_exists() -> None:
    messages = catalog().messages
    used = set()
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("bot/**/*.py"), *ROOT.glob("scheduler/**/*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"""ParseError\(\s*["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"""note=["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    assert len(used) > 60
    assert sorted(used - set(messages)) == []


def test_keys_built_at_run_time_exist() -> None:
    messages = catalog().messages
    built = {f"outcome_{o.value}" for o in Outcome} | {f"cls_reason_{o.value}" for o in Outcome}
    built |= {f"area_{a}" for a in AREAS} | {f"cmd_{r.name}" for r in Router().commands()}
    built |= {f"help_{r.name}" for r in Router().commands()}
    built |= {f"q_hint_{t.value}" for t in ASKED_TYPES if t not in (QType.CHOICE, QType.YES_NO)}
    built |= {f"btn_{n}" for n in ("back", "keep", "skip", "pause", "resume", "confirm", "new", "open", "reopen")}
    assert sorted(built - set(messages)) == []


def test_command_words_are_unambiguous_and_match_accentless() -> None:
    assert parse_command("/quaylai").name == "back"
    assert parse_command("Quay lại").name == "back"
    assert parse_command("quay lai").name == "back"
    assert parse_command("/sua 12") .name == "edit" and parse_command("/sua 12").arg == "12"
    assert parse_command("/start@rasoat_bot").name == "start"
    assert parse_command("/moi  Thôn Nà Pàn ").arg == "Thôn Nà Pàn"  # arguments keep accents and case
    assert parse_command("Hoàng Văn Minh") is None
    seen: dict[str, str] = {}
    for name in command_names():
        for word in catalog().words(f"cmd_{name}"):
            assert seen.setdefault(word.lower(), name) == name, f"'{word}' means two commands"


def test_every_router_command_has_words_and_every_word_a_command() -> None:
    assert Router().missing_words() == []
