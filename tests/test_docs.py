"""The documentation stays true to the code: a README a newcomer reads in five minutes, the
officers' guide checked against the router table (as `tests/test_locale.py` checks the help's
words), and no link in README.md or docs/ that leads nowhere."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from bot.router import Router
from core.access import Role
from core.chat.commands import slash

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GUIDE = DOCS / "officers.md"
CARD = DOCS / "village-head-card.md"
README_MAX_LINES = 150
HEAD_ONLY = frozenset({Role.VILLAGE_HEAD})

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the text outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            out.append((number, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose(path.read_text(encoding="utf-8")):
        m = _HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(files: Iterable[Path], root: Path = ROOT) -> list[str]:
    """Every relative link (and image) of the files whose file, or heading, does not exist."""
    out = []
    for path in files:
        for number, line in prose(path.read_text(encoding="utf-8")):
            for target in _LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                    continue
                file_part, _, anchor = target.partition("#")
                dest = (path.parent / file_part).resolve() if file_part else path
                where = f"{path.relative_to(root)}:{number}: ({target})"
                if not dest.exists():
                    out.append(f"{where} no such file")
                elif anchor and dest.is_file() and dest.suffix == ".md" and anchor not in anchors(dest):
                    out.append(f"{where} no heading #{anchor} in {dest.relative_to(root)}")
    return out


def undocumented(commands: Iterable[tuple[str, frozenset[Role]]], guide: str, card: str) -> list[str]:
    """Typed commands missing from the guide; a village head's own command may be on the card
    instead. A command counts when its word stands whole (`/mo` is not found inside `/mokhoa`)."""
    def has(text: str, word: str) -> bool:
        return re.search(rf"(?<![\w/]){re.escape(word)}(?![\w])", text) is not None

    return [f"{word} ({', '.join(sorted(r.value for r in roles))})" for word, roles in commands
            if not has(guide, word) and not (roles <= HEAD_ONLY and has(card, word))]


def _doc_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


# ---- the project ------------------------------------------------------------------------------

def test_readme_is_read_in_five_minutes() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move the rest to docs/"


def test_every_command_of_the_router_table_is_in_the_officers_guide() -> None:
    commands = [(slash(r.name), r.roles) for r in Router().commands()]
    assert {"/hoimoi", "/baocao", "/web"} <= {word for word, _ in commands}
    missing = undocumented(commands, GUIDE.read_text(encoding="utf-8"), CARD.read_text(encoding="utf-8"))
    assert not missing, f"commands without their line in docs/officers.md: {', '.join(missing)}"


def test_every_relative_link_of_the_readme_and_docs_leads_somewhere() -> None:
    files = _doc_files()
    assert GUIDE in files and (DOCS / "decisions" / "README.md") in files
    found = broken_links(files)
    assert not found, "links that lead nowhere:\n" + "\n".join(found)


def test_the_readme_indexes_every_page_of_docs() -> None:
    text = README.read_text(encoding="utf-8")
    pages = [p.relative_to(ROOT).as_posix() for p in sorted(DOCS.glob("*.md"))]
    assert [p for p in pages if f"({p})" not in text] == []
    assert "(docs/decisions/README.md)" in text


# ---- each check can fail ----------------------------------------------------------------------

def test_the_link_check_names_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Several workers (`--workers`)\n\nsee [b](b.md#nope), "
                                   "[here](#several-workers---workers), ![pic](img/x.png)\n"
                                   "```\n[not a link](gone.md)\n```\n[site](https://example.org/x.md)\n",
                                   encoding="utf-8")
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    found = broken_links([tmp_path / "a.md", tmp_path / "b.md"], tmp_path)
    assert found == ["a.md:5: (b.md#nope) no heading #nope in b.md", "a.md:5: (img/x.png) no such file"]
    assert slug("National-software export (`/xuatdl`)") == "national-software-export-xuatdl"
    assert slug("Trang xem số liệu trên web (web view)") == "trang-xem-số-liệu-trên-web-web-view"


def test_the_guide_check_names_a_command_left_out() -> None:
    staff, heads = frozenset({Role.COMMUNE}), HEAD_ONLY
    guide, card = "| `/mokhoa` | enable |\n| `/mo 12` | open |", "| `/phieua` |"
    assert undocumented([("/mo", staff), ("/mokhoa", staff)], guide, card) == []
    assert undocumented([("/khoa", staff), ("/phieua", heads), ("/phieua", staff)], guide, card) == [
        "/khoa (commune)", "/phieua (commune)"]
