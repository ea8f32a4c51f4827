"""The table of other ways to say an answer (locales/<lang>/synonyms.yaml).

How village heads say "yes", "fifteen" or "a million two" is language, not logic, so it lives
in the locale where an official can add a word; this module only checks the file (every error
names the file and line) and hands the parsers folded lookup tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

import locales
from core.datafile import DataFileError, Errors, read_text
from core.text import fold

LOCALES_DIR = Path(locales.__file__).parent
_TOP = {"yes_no", "numbers", "hundred", "money_units", "money_half", "currency", "choices"}
_WORD = re.compile(r"^[a-z0-9]+(?: [a-z0-9]+)*$")


@dataclass(frozen=True)
class Word:
    """A synonym as written in the file (for the user-facing alias) and where (for errors)."""

    text: str
    line: int


@dataclass(frozen=True, eq=False)  # hashed by identity: the parsers cache patterns per table
class Synonyms:
    path: Path
    yes: frozenset[str]
    no: frozenset[str]
    particles: frozenset[str]
    numbers: dict[str, int]  # folded phrase -> value
    hundred: frozenset[str]
    money_units: dict[str, int]  # folded word -> multiplier
    money_half: frozenset[str]
    currency: frozenset[str]
    choices: dict[str, dict[str, tuple[Word, ...]]] = field(default_factory=dict)  # list -> value -> words
    lines: dict[str, int] = field(default_factory=dict)  # choice list name -> line, for errors

    @property
    def longest_number(self) -> int:
        return max((len(p.split()) for p in self.numbers), default=1)


class _Reader:
    """Walks the YAML node tree itself, because list items (the words) need their own lines.
    A bad word or key is recorded in `errors` and left out, so the rest is still checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors = Errors()

    def error(self, node: yaml.Node, message: str) -> DataFileError:
        return DataFileError(self.path, node.start_mark.line + 1, message)

    def add(self, node: yaml.Node | int, message: str) -> None:
        line = node if isinstance(node, int) else node.start_mark.line + 1
        self.errors.add(DataFileError(self.path, line, message))

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """The pairs of a mapping; a key given twice (or not a word) is recorded and left out."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        seen: set[str] = set()
        out = []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.add(key, f"{what}: keys must be plain words or numbers")
            elif key.value in seen:
                self.add(key, f"{what}: '{key.value}' is given twice")
            else:
                seen.add(key.value)
                out.append((key, value))
        return out

    def words(self, node: yaml.Node, what: str) -> list[tuple[str, str, int]]:
        """(as written, folded, line) for each good word of a list; a single word is a list of one."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not items:
            self.add(node, f"{what}: the list is empty")
        out = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                self.add(item, f"{what}: each entry must be a word or phrase")
                continue
            folded = fold(str(item.value))
            if not _WORD.match(folded):
                self.add(item, f"{what}: '{item.value}' may hold only letters, digits and spaces")
                continue
            out.append((str(item.value).strip(), folded, item.start_mark.line + 1))
        return out

    def number(self, node: yaml.ScalarNode, what: str) -> int:
        try:
            value = int(str(node.value).replace("_", ""))
        except ValueError:
            raise self.error(node, f"{what}: '{node.value}' must be a whole number") from None
        if value < 0:
            raise self.error(node, f"{what}: '{node.value}' must not be negative")
        return value

    def numbered(self, node: yaml.Node | None, what: str) -> list[tuple[yaml.ScalarNode, int, yaml.Node]]:
        """(key, number, words node) of a mapping keyed by numbers; a bad key is recorded."""
        out: list[tuple[yaml.ScalarNode, int, yaml.Node]] = []
        with self.errors.catch():
            for key, value in self.mapping(node, what) if node is not None else ():
                with self.errors.catch():
                    out.append((key, self.number(key, what), value))
        return out


def _root(path: Path) -> yaml.Node:
    text = read_text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataFileError(path, mark.line + 1 if mark else None, f"YAML error: {exc.problem or exc}") from exc
    if root is None:
        raise DataFileError(path, None, "the synonyms file is empty")
    return root


def load_synonyms(path: str | Path) -> Synonyms:
    """The table, every mistake of the file reported at once, each with its line."""
    path = Path(path)
    r = _Reader(path)
    errors = r.errors
    top = {k.value: (k, v) for k, v in r.mapping(_root(path), "the synonyms file")}
    for name in sorted(set(top) - _TOP):
        r.add(top[name][0], f"unknown group '{name}'; allowed: {', '.join(sorted(_TOP))}")
    missing = sorted(_TOP - set(top))
    if missing:
        r.add(1, f"missing group(s) {', '.join(missing)}")

    def node(name: str) -> yaml.Node | None:
        return top[name][1] if name in top else None

    def group(name: str) -> list[tuple[str, str, int]]:
        return r.words(top[name][1], name) if name in top else []

    yes_no: dict[str, tuple[yaml.ScalarNode, yaml.Node]] = {}
    if "yes_no" in top:
        with errors.catch():
            yes_no = {k.value: (k, v) for k, v in r.mapping(top["yes_no"][1], "yes_no")}
            for need in ("yes", "no", "particles"):
                if need not in yes_no:
                    r.add(top["yes_no"][0], f"yes_no needs '{need}'")
            for extra in sorted(set(yes_no) - {"yes", "no", "particles"}):
                r.add(yes_no[extra][0], f"yes_no takes only yes, no and particles, not '{extra}'")
    meaning: dict[str, tuple[str, int]] = {}
    for side in ("yes", "no"):
        for written, folded, line in r.words(yes_no[side][1], f"yes_no.{side}") if side in yes_no else ():
            if folded in meaning and meaning[folded][0] != side:
                r.add(line, f"'{written}' is both yes and no (see line {meaning[folded][1]})")
            meaning.setdefault(folded, (side, line))
    particles = r.words(yes_no["particles"][1], "yes_no.particles") if "particles" in yes_no else []
    for written, folded, line in particles:
        if " " in folded:
            r.add(line, f"yes_no.particles: '{written}' must be a single word")

    numbers: dict[str, int] = {}
    number_lines: dict[str, int] = {}
    for _, n, value in r.numbered(node("numbers"), "numbers"):
        for written, folded, line in r.words(value, f"numbers.{n}"):
            if folded.isdigit():
                r.add(line, f"numbers.{n}: '{written}' is already a number; give words")
            elif folded in numbers and numbers[folded] != n:
                r.add(line, f"'{written}' means {numbers[folded]} on line {number_lines[folded]} and {n} here")
            else:
                numbers[folded] = n
                number_lines[folded] = line
    hundred = group("hundred")

    units: dict[str, int] = {}
    for key, n, value in r.numbered(node("money_units"), "money_units"):
        if n < 2:
            r.add(key, f"money_units: {n} is not a unit of money")
            continue
        for written, folded, line in r.words(value, f"money_units.{n}"):
            if " " in folded or not folded.isalpha():
                r.add(line, f"money_units.{n}: '{written}' must be one word of letters")
            elif folded in units and units[folded] != n:
                r.add(line, f"'{written}' is the unit {units[folded]} and {n}")
            elif folded in numbers:
                r.add(line, f"'{written}' is also a number word (line {number_lines[folded]})")
            else:
                units[folded] = n
    half = group("money_half")
    currency = group("currency")
    for written, folded, line in [*hundred, *half, *currency]:
        if folded in numbers or folded in units:
            r.add(line, f"'{written}' is already a number or money unit word")

    choices: dict[str, dict[str, tuple[Word, ...]]] = {}
    lines: dict[str, int] = {}
    with errors.catch():
        for list_key, values in r.mapping(top["choices"][1], "choices") if "choices" in top else ():
            with errors.catch():
                lines[list_key.value] = list_key.start_mark.line + 1
                choices[str(list_key.value)] = _choice_list(r, list_key.value, values)
    errors.raise_any()
    return Synonyms(
        path=path,
        yes=frozenset(f for f, (side, _) in meaning.items() if side == "yes"),
        no=frozenset(f for f, (side, _) in meaning.items() if side == "no"),
        particles=frozenset(f for _, f, _ in particles),
        numbers=numbers,
        hundred=frozenset(f for _, f, _ in hundred),
        money_units=units,
        money_half=frozenset(f for _, f, _ in half),
        currency=frozenset(f for _, f, _ in currency),
        choices=choices,
        lines=lines,
    )


def _choice_list(r: _Reader, name: str, values: yaml.Node) -> dict[str, tuple[Word, ...]]:
    """value -> its words; a word naming two values of the list is recorded."""
    by_value: dict[str, tuple[Word, ...]] = {}
    taken: dict[str, str] = {}
    for value_key, value_words in r.mapping(values, f"choices.{name}"):
        ws = []
        for written, folded, line in r.words(value_words, f"choices.{name}.{value_key.value}"):
            if folded in taken and taken[folded] != value_key.value:
                r.add(line, f"'{written}' names both '{taken[folded]}' and '{value_key.value}' in choice list '{name}'")
                continue
            taken[folded] = value_key.value
            ws.append(Word(written, line))
        by_value[str(value_key.value)] = tuple(ws)
    return by_value


@lru_cache(maxsize=4)
def synonyms(lang: str = "vi") -> Synonyms:
    return load_synonyms(LOCALES_DIR / lang / "synonyms.yaml")
