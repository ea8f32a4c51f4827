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
from core.datafile import DataFileError, read_text
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
    """Walks the YAML node tree itself, because list items (the words) need their own lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, node: yaml.Node, message: str) -> DataFileError:
        return DataFileError(self.path, node.start_mark.line + 1, message)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        seen: set[str] = set()
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.error(key, f"{what}: keys must be plain words or numbers")
            if key.value in seen:
                raise self.error(key, f"{what}: '{key.value}' is given twice")
            seen.add(key.value)
        return node.value  # type: ignore[no-any-return]

    def words(self, node: yaml.Node, what: str) -> list[tuple[str, str, int]]:
        """(as written, folded, line) for each word of a list; a single word is a list of one."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not items:
            raise self.error(node, f"{what}: the list is empty")
        out = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                raise self.error(item, f"{what}: each entry must be a word or phrase")
            folded = fold(str(item.value))
            if not _WORD.match(folded):
                raise self.error(item, f"{what}: '{item.value}' may hold only letters, digits and spaces")
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


def load_synonyms(path: str | Path) -> Synonyms:
    path = Path(path)
    text = read_text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataFileError(path, mark.line + 1 if mark else None, f"YAML error: {exc.problem or exc}") from exc
    if root is None:
        raise DataFileError(path, None, "the synonyms file is empty")
    r = _Reader(path)
    top = {k.value: (k, v) for k, v in r.mapping(root, "the synonyms file")}
    unknown = sorted(set(top) - _TOP)
    if unknown:
        raise r.error(top[unknown[0]][0], f"unknown group(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP))}")
    missing = sorted(_TOP - set(top))
    if missing:
        raise DataFileError(path, 1, f"missing group(s) {', '.join(missing)}")

    yes_no = {k.value: (k, v) for k, v in r.mapping(top["yes_no"][1], "yes_no")}
    for need in ("yes", "no", "particles"):
        if need not in yes_no:
            raise r.error(top["yes_no"][0], f"yes_no needs '{need}'")
    extra = sorted(set(yes_no) - {"yes", "no", "particles"})
    if extra:
        raise r.error(yes_no[extra[0]][0], f"yes_no takes only yes, no and particles, not '{extra[0]}'")
    meaning: dict[str, tuple[str, int]] = {}
    for side in ("yes", "no"):
        for written, folded, line in r.words(yes_no[side][1], f"yes_no.{side}"):
            if folded in meaning and meaning[folded][0] != side:
                raise DataFileError(path, line, f"'{written}' is both yes and no (see line {meaning[folded][1]})")
            meaning.setdefault(folded, (side, line))
    particles = r.words(yes_no["particles"][1], "yes_no.particles")
    for written, folded, line in particles:
        if " " in folded:
            raise DataFileError(path, line, f"yes_no.particles: '{written}' must be a single word")

    numbers: dict[str, int] = {}
    number_lines: dict[str, int] = {}
    for key, value in r.mapping(top["numbers"][1], "numbers"):
        n = r.number(key, "numbers")
        for written, folded, line in r.words(value, f"numbers.{n}"):
            if folded.isdigit():
                raise DataFileError(path, line, f"numbers.{n}: '{written}' is already a number; give words")
            if folded in numbers and numbers[folded] != n:
                raise DataFileError(path, line, f"'{written}' means {numbers[folded]} on line "
                                    f"{number_lines[folded]} and {n} here")
            numbers[folded] = n
            number_lines[folded] = line
    hundred = r.words(top["hundred"][1], "hundred")

    units: dict[str, int] = {}
    for key, value in r.mapping(top["money_units"][1], "money_units"):
        n = r.number(key, "money_units")
        if n < 2:
            raise r.error(key, f"money_units: {n} is not a unit of money")
        for written, folded, line in r.words(value, f"money_units.{n}"):
            if " " in folded or not folded.isalpha():
                raise DataFileError(path, line, f"money_units.{n}: '{written}' must be one word of letters")
            if folded in units and units[folded] != n:
                raise DataFileError(path, line, f"'{written}' is the unit {units[folded]} and {n}")
            if folded in numbers:
                raise DataFileError(path, line, f"'{written}' is also a number word (line {number_lines[folded]})")
            units[folded] = n
    half = r.words(top["money_half"][1], "money_half")
    currency = r.words(top["currency"][1], "currency")
    for written, folded, line in [*hundred, *half, *currency]:
        if folded in numbers or folded in units:
            raise DataFileError(path, line, f"'{written}' is already a number or money unit word")

    choices: dict[str, dict[str, tuple[Word, ...]]] = {}
    lines: dict[str, int] = {}
    for list_key, values in r.mapping(top["choices"][1], "choices"):
        lines[list_key.value] = list_key.start_mark.line + 1
        by_value: dict[str, tuple[Word, ...]] = {}
        taken: dict[str, str] = {}
        for value_key, value_words in r.mapping(values, f"choices.{list_key.value}"):
            ws = []
            for written, folded, line in r.words(value_words, f"choices.{list_key.value}.{value_key.value}"):
                if folded in taken and taken[folded] != value_key.value:
                    raise DataFileError(path, line, f"'{written}' names both '{taken[folded]}' and "
                                        f"'{value_key.value}' in choice list '{list_key.value}'")
                taken[folded] = value_key.value
                ws.append(Word(written, line))
            by_value[str(value_key.value)] = tuple(ws)
        choices[str(list_key.value)] = by_value

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


@lru_cache(maxsize=4)
def synonyms(lang: str = "vi") -> Synonyms:
    return load_synonyms(LOCALES_DIR / lang / "synonyms.yaml")
