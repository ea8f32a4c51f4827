"""Reads survey forms from YAML and checks them the way pyxform checks an XLSForm.

All checks happen at load time so that a wrong form is refused at start-up with the file and
line to fix, never discovered by a village head half-way through a household.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.chat.payloads import MAX_BYTES
from core.datafile import DataFileError, check_keys, line_of, load_mapping, load_yaml, require
from core.expr import Expr, ExprError, compile_expr
from core.provenance import parse_provenance
from core.surveys.model import Choice, Item, QType, Question, RepeatGroup, Survey
from core.surveys.synonyms import synonyms
from core.text import words

FORMS_DIR = Path(__file__).parent / "forms"
CONTEXT_NAMES = frozenset({"review_year", "is_urban"})
MEMBER_CONTEXT_NAMES = frozenset({"_index"})
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
VALUE_RE = re.compile(r"^[a-z0-9_]{1,20}$")
# Button data is "a:<group>.<index>.<question>:<value>". With ids of at most 24 characters, group ids
# of at most 4, values of at most 20 and at most 99 members, it stays within Telegram's 64 bytes:
# 2 + 4 + 1 + 2 + 1 + 24 + 1 + 20 = 55 (all ASCII, as the patterns force).
CALLBACK_LIMIT = MAX_BYTES  # one limit for every button, see core/chat/payloads.py
MAX_MEMBERS = 99
# "screening" is Phiếu A: it classifies nobody, a stop rule decides whether Phiếu B follows.
PURPOSES = {"poverty", "average_living", "screening"}
OUTPUTS: dict[str, set[str]] = {
    "poverty": {"income_per_capita", "member_count"},
    "average_living": {"income_per_capita", "member_count"},
    "screening": set(),
}
# Start-of-period status and ethnicity, for the reports; b1_score for a form whose B1 total is
# typed from paper (a form scored by a B1 table gets its score computed instead).
OPTIONAL_OUTPUTS = {"prior_class", "ethnicity", "b1_score"}

_Q_KEYS = {
    "id", "type", "label", "hint", "required", "min", "max", "choices", "relevant",
    "constraint", "constraint_message", "expr", "section",
}
_G_KEYS = {
    "group", "label", "repeat_count", "max_count", "questions", "relevant", "section",
    "member_name", "member_relation",
}
# Without `member_name` / `member_relation` on a group, questions with these ids name the member.
DEFAULT_MEMBER_NAME, DEFAULT_MEMBER_RELATION = "ho_ten", "quan_he"
_TOP_KEYS = {
    "id", "version", "title", "purpose", "basis", "choice_lists", "questions", "outputs", "head_name",
    "prior_classes",
    "provenance",
}
PRIOR_CLASSES = frozenset({"poor", "near_poor", "none"})


def load_survey(path: str | Path, lists_seen: set[str] | None = None) -> Survey:
    """One form; `lists_seen` collects its choice-list names, so load_forms can tell a synonym
    for a list that no form has."""
    path = Path(path)
    doc = load_mapping(path, _TOP_KEYS, "a survey file")
    sid = require(doc, "id", path, str)
    version = str(require(doc, "version", path, (str, int, float)))
    purpose = require(doc, "purpose", path, str)
    if purpose not in PURPOSES:
        raise DataFileError(path, line_of(doc), f"purpose must be one of {sorted(PURPOSES)}")
    choice_lists = _choice_lists(doc.get("choice_lists") or {}, path)
    include_titles: dict[Path, str | None] = {}
    raw_items = _expand_includes(require(doc, "questions", path, list), path, choice_lists, include_titles)
    choice_lists = _with_synonyms(choice_lists, path)
    if lists_seen is not None:
        lists_seen.update(choice_lists)

    # First pass: collect names so expressions may refer to any question of the form.
    hh_names: set[str] = set(CONTEXT_NAMES)
    member_names: set[str] = set(MEMBER_CONTEXT_NAMES)
    for raw, src in raw_items:
        if isinstance(raw, dict) and "group" in raw:
            for q in raw.get("questions") or []:
                if isinstance(q, dict) and "id" in q:
                    _add_name(member_names | hh_names, member_names, q, src)
        elif isinstance(raw, dict) and "id" in raw:
            _add_name(hh_names | member_names, hh_names, raw, src)

    items: list[Item] = []
    seen_ids: set[str] = set()
    for raw, src in raw_items:
        if isinstance(raw, dict) and "group" in raw:
            items.append(_group(raw, src, hh_names, member_names, choice_lists, seen_ids))
        else:
            q = _question(raw, src, hh_names, member_names, choice_lists, in_member=False)
            _unique(q.id, seen_ids, src, raw)
            items.append(q)
    items, sections = _sections(raw_items, items, path, include_titles)

    asked = [q for q in _all_questions(items) if q.asked]
    if not asked:
        raise DataFileError(path, line_of(doc), "the survey asks no question")
    parse_provenance(doc.get("provenance"), path)  # checked here, printed by `rasoat check`
    outputs = _outputs(doc, path, purpose, hh_names, member_names)
    head_name = doc.get("head_name")
    if head_name is not None and head_name not in hh_names:
        raise DataFileError(path, line_of(doc), f"head_name '{head_name}' is not a household question")
    prior_classes = _prior_classes(doc, path)
    return Survey(
        id=sid,
        version=version,
        title=str(require(doc, "title", path, str)),
        purpose=purpose,
        items=tuple(items),
        outputs=outputs,
        path=str(path),
        head_name=head_name,
        basis=str(doc.get("basis", "")),
        context_names=CONTEXT_NAMES,
        prior_classes=prior_classes,
        sections=sections,
    )


def _prior_classes(doc: dict, path: Path) -> dict[str, str]:
    """`prior_classes: {ngheo: poor, ...}`: which answer of the start-of-period question means
    which class in the reports (the form's own choice values stay in the form file)."""
    raw = doc.get("prior_classes") or {}
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(doc), "prior_classes must map answers to poor / near_poor / none")
    bad = [str(v) for v in raw.values() if v not in PRIOR_CLASSES]
    if bad:
        raise DataFileError(path, line_of(raw), f"prior_classes values must be one of {sorted(PRIOR_CLASSES)}, "
                            f"got {', '.join(bad)}")
    if raw and "prior_class" not in doc.get("outputs", {}):
        raise DataFileError(path, line_of(raw), "prior_classes needs an output 'prior_class'")
    return {str(k): str(v) for k, v in raw.items()}


def load_forms(directory: str | Path = FORMS_DIR) -> dict[str, Survey]:
    """All forms in a folder (files starting with '_' are shared sections, not forms)."""
    surveys: dict[str, Survey] = {}
    lists_seen: set[str] = set()
    for path in sorted(Path(directory).glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        survey = load_survey(path, lists_seen)
        if survey.id in surveys:
            raise DataFileError(path, None, f"survey id '{survey.id}' is also used by {surveys[survey.id].path}")
        surveys[survey.id] = survey
    table = synonyms()
    for name in table.choices:
        if name not in lists_seen:
            raise DataFileError(table.path, table.lines[name], f"no form has a choice list '{name}' "
                                f"(lists: {', '.join(sorted(lists_seen))})")
    return surveys


def _sections(
    raw_items: list[tuple[Any, Path]], items: list[Item], path: Path, include_titles: dict[Path, str | None]
) -> tuple[list[Item], tuple[str | None, ...]]:
    """Cut the form into the sections the progress line counts («Phần 2/5»).

    A form may name its sections (`section: "Nhà ở"` on the top-level question or group that
    opens one; an included file may carry `section:` for itself). Forms that do not still get
    sections from their structure, so no form has to change: a section starts at each included
    file and right after it, and at each repeat group and right after it. A named section also
    starts at these boundaries, so a title never spans a roster.
    """
    out: list[Item] = []
    titles: list[str | None] = []
    prev_src: Path | None = None
    prev_group = False
    for (raw, src), item in zip(raw_items, items, strict=True):
        title = raw.get("section") if isinstance(raw, dict) else None
        if title is not None and (not isinstance(title, str) or not title.strip()):
            raise DataFileError(src, line_of(raw), "section must be a non-empty title")
        is_group = isinstance(item, RepeatGroup)
        if not titles or title is not None or is_group or prev_group or src != prev_src:
            if title is None and src != path and src != prev_src:
                title = include_titles.get(src)
            titles.append(title.strip() if title else None)
        part, label = len(titles), titles[-1]
        if isinstance(item, RepeatGroup):
            qs = tuple(replace(q, part=part, section=label) for q in item.questions)
            out.append(replace(item, part=part, section=label, questions=qs))
        else:
            out.append(replace(item, part=part, section=label))
        prev_src, prev_group = src, is_group
    return out, tuple(titles)


def _with_synonyms(choice_lists: dict[str, tuple[Choice, ...]], path: Path) -> dict[str, tuple[Choice, ...]]:
    """Add the locale's synonyms (locales/vi/synonyms.yaml) to the named choice lists as aliases;
    a synonym for a value the list lacks, or one that already names another choice, is an error
    in the synonyms file."""
    table = synonyms()
    out = dict(choice_lists)
    for name, extra in table.choices.items():
        if name not in choice_lists:
            continue
        choices = choice_lists[name]
        values = [c.value for c in choices]
        for value, ws in extra.items():
            if value not in values:
                raise DataFileError(table.path, ws[0].line, f"choice list '{name}' ({path.name}) has no value "
                                    f"'{value}' (values: {', '.join(values)})")
            for w in ws:
                for other in choices:
                    if other.value != value and words(w.text) in (
                            other.value, words(other.label), *(words(a) for a in other.aliases)):
                        raise DataFileError(table.path, w.line, f"'{w.text}' already names the choice "
                                            f"'{other.value}' of list '{name}' ({path.name})")
        out[name] = tuple(replace(c, aliases=c.aliases + tuple(w.text for w in extra.get(c.value, ())))
                          for c in choices)
    return out


def _all_questions(items: list[Item]) -> list[Question]:
    out: list[Question] = []
    for item in items:
        out.extend(item.questions if isinstance(item, RepeatGroup) else [item])
    return out


def _add_name(known: set[str], target: set[str], raw: dict, src: Path) -> None:
    qid = raw.get("id")
    if not isinstance(qid, str) or not ID_RE.match(qid):
        raise DataFileError(src, line_of(raw), f"question id {qid!r} must match {ID_RE.pattern}")
    if qid in known:
        raise DataFileError(src, line_of(raw), f"question id '{qid}' is used twice")
    target.add(qid)


def _unique(qid: str, seen: set[str], src: Path, raw: Any) -> None:
    if qid in seen:
        raise DataFileError(src, line_of(raw), f"question id '{qid}' is used twice")
    seen.add(qid)


def _expand_includes(
    raw_items: list, path: Path, choice_lists: dict[str, tuple[Choice, ...]], titles: dict[Path, str | None]
) -> list[tuple[Any, Path]]:
    """`- include: _file.yaml` splices a shared section (e.g. household identification);
    the section may bring its own choice lists."""
    out: list[tuple[Any, Path]] = []
    for raw in raw_items:
        if isinstance(raw, dict) and "include" in raw:
            inc = path.parent / str(raw["include"])
            if not inc.exists():
                raise DataFileError(path, line_of(raw), f"included file {inc.name} does not exist")
            section = load_yaml(inc)
            if not isinstance(section, dict):
                raise DataFileError(inc, None, "an included section must be a mapping with 'questions'")
            check_keys(section, {"choice_lists", "questions", "section"}, inc)
            title = section.get("section")
            if title is not None and (not isinstance(title, str) or not title.strip()):
                raise DataFileError(inc, line_of(section), "section must be a non-empty title")
            titles[inc] = title
            for name, choices in _choice_lists(section.get("choice_lists") or {}, inc).items():
                if name in choice_lists:
                    raise DataFileError(inc, line_of(section), f"choice list '{name}' is defined twice")
                choice_lists[name] = choices
            out.extend((item, inc) for item in require(section, "questions", inc, list))
        else:
            out.append((raw, path))
    return out


def _choice_lists(raw: Any, path: Path) -> dict[str, tuple[Choice, ...]]:
    if not isinstance(raw, dict):
        raise DataFileError(path, line_of(raw), "choice_lists must map a list name to its choices")
    return {name: _choices(items, path, raw) for name, items in raw.items()}


def _choices(raw: Any, path: Path, parent: Any) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not raw:
        raise DataFileError(path, line_of(parent), "choices must be a non-empty list")
    out: list[Choice] = []
    for c in raw:
        if isinstance(c, dict):
            check_keys(c, {"value", "label", "aliases"}, path)
        value = str(require(c, "value", path, (str, int)))
        if not VALUE_RE.match(value):
            raise DataFileError(path, line_of(c), f"choice value {value!r} must match {VALUE_RE.pattern}")
        if any(o.value == value for o in out):
            raise DataFileError(path, line_of(c), f"choice value '{value}' is used twice")
        aliases = c.get("aliases") or []
        out.append(Choice(value, str(require(c, "label", path, str)), tuple(str(a) for a in aliases)))
    return tuple(out)


def _compile(
    raw: dict, key: str, src: Path, hh: set[str], mem: set[str], in_member: bool
) -> Expr | None:
    if raw.get(key) is None:
        return None
    try:
        return compile_expr(raw[key], hh, mem, in_member=in_member)
    except ExprError as exc:
        raise DataFileError(src, line_of(raw), f"{key} of '{raw.get('id', raw.get('group'))}': {exc}") from exc


def _question(
    raw: Any,
    src: Path,
    hh: set[str],
    mem: set[str],
    choice_lists: dict[str, tuple[Choice, ...]],
    *,
    in_member: bool,
) -> Question:
    if not isinstance(raw, dict):
        raise DataFileError(src, None, f"each question must be a mapping, got {raw!r}")
    check_keys(raw, _Q_KEYS, src)
    qid = require(raw, "id", src, str)
    try:
        qtype = QType(require(raw, "type", src, str))
    except ValueError:
        raise DataFileError(
            src, line_of(raw), f"question '{qid}': type must be one of {', '.join(t.value for t in QType)}"
        ) from None
    choices: tuple[Choice, ...] = ()
    if qtype is QType.CHOICE:
        spec = raw.get("choices")
        if isinstance(spec, str):
            if spec not in choice_lists:
                raise DataFileError(src, line_of(raw), f"question '{qid}': unknown choice list '{spec}'")
            choices = choice_lists[spec]
        else:
            choices = _choices(spec, src, raw)
    elif raw.get("choices") is not None:
        raise DataFileError(src, line_of(raw), f"question '{qid}': only choice questions take choices")
    if qtype is QType.CALCULATE and raw.get("expr") is None:
        raise DataFileError(src, line_of(raw), f"calculate question '{qid}' needs expr")
    if qtype is not QType.CALCULATE and not raw.get("label"):
        raise DataFileError(src, line_of(raw), f"question '{qid}' needs a label")
    required = raw.get("required", True)
    if not isinstance(required, bool):
        raise DataFileError(src, line_of(raw), f"question '{qid}': required must be true or false")
    return Question(
        id=qid,
        type=qtype,
        label=str(raw.get("label", qid)),
        line=line_of(raw) or 0,
        hint=raw.get("hint"),
        required=required,
        min=_compile(raw, "min", src, hh, mem, in_member),
        max=_compile(raw, "max", src, hh, mem, in_member),
        choices=choices,
        relevant=_compile(raw, "relevant", src, hh, mem, in_member),
        constraint=_compile(raw, "constraint", src, hh | {"value"}, mem, in_member),
        constraint_message=raw.get("constraint_message"),
        expr=_compile(raw, "expr", src, hh, mem, in_member),
    )


def _group(
    raw: dict,
    src: Path,
    hh: set[str],
    mem: set[str],
    choice_lists: dict[str, tuple[Choice, ...]],
    seen: set[str],
) -> RepeatGroup:
    check_keys(raw, _G_KEYS, src)
    gid = require(raw, "group", src, str)
    if not ID_RE.match(gid) or len(gid) > 4:
        raise DataFileError(
            src, line_of(raw), f"group id {gid!r} must be 1-4 lowercase letters (it goes in button data)"
        )
    count_from = require(raw, "repeat_count", src, str)
    if count_from not in hh:
        raise DataFileError(src, line_of(raw), f"repeat_count '{count_from}' is not a household question")
    max_count = raw.get("max_count", 30)
    if not isinstance(max_count, int) or not 1 <= max_count <= MAX_MEMBERS:
        raise DataFileError(src, line_of(raw), f"max_count must be a whole number from 1 to {MAX_MEMBERS}")
    questions = []
    for q in require(raw, "questions", src, list):
        if isinstance(q, dict) and "section" in q:
            raise DataFileError(src, line_of(q), f"group '{gid}': put section on the group, not on its questions")
        question = _question(q, src, hh, mem, choice_lists, in_member=True)
        _unique(question.id, seen, src, q)
        questions.append(question)
    by_id = {q.id: q for q in questions}
    name_id = _member_field(raw, "member_name", DEFAULT_MEMBER_NAME, {QType.TEXT}, by_id, src)
    relation_id = _member_field(raw, "member_relation", DEFAULT_MEMBER_RELATION, {QType.CHOICE, QType.TEXT}, by_id, src)
    return RepeatGroup(
        id=gid,
        label=str(require(raw, "label", src, str)),
        count_from=count_from,
        max_count=max_count,
        questions=tuple(questions),
        line=line_of(raw) or 0,
        relevant=_compile(raw, "relevant", src, hh, mem, False),
        name_id=name_id,
        relation_id=relation_id,
    )


def _member_field(
    raw: dict, key: str, default: str, types: set[QType], by_id: dict[str, Question], src: Path
) -> str | None:
    """The member question that names the member in every member question («Nông Thị Hoa (vợ)»)."""
    qid = raw.get(key)
    if qid is None:
        q = by_id.get(default)
        return default if q is not None and q.type in types else None
    q = by_id.get(qid) if isinstance(qid, str) else None
    if q is None or q.type not in types:
        kinds = " or ".join(sorted(t.value for t in types))
        raise DataFileError(src, line_of(raw), f"{key} '{qid}' must be a {kinds} question of group '{raw['group']}'")
    return qid


def _outputs(doc: dict, path: Path, purpose: str, hh: set[str], mem: set[str]) -> dict[str, Expr]:
    raw = (doc.get("outputs") or {}) if purpose == "screening" else require(doc, "outputs", path, dict)
    need = OUTPUTS[purpose]
    missing = need - set(raw)
    if missing:
        raise DataFileError(path, line_of(raw), f"outputs must define {', '.join(sorted(missing))}")
    out: dict[str, Expr] = {}
    for key, src in raw.items():
        if key not in need | OPTIONAL_OUTPUTS:
            raise DataFileError(path, line_of(raw), f"unknown output '{key}' for purpose {purpose}")
        try:
            out[key] = compile_expr(src, hh, mem)
        except ExprError as exc:
            raise DataFileError(path, line_of(raw), f"output {key}: {exc}") from exc
    return out
