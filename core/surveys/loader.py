"""Reads survey forms from YAML and checks them the way pyxform checks an XLSForm.

All checks happen at load time so that a wrong form is refused at start-up with the file and
line to fix, never discovered by a village head half-way through a household. Every mistake of
a form is reported at once: each question, group, choice and output is checked on its own, and
one that fails is left out so the others are still checked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.chat.payloads import MAX_BYTES
from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, load_yaml, require
from core.expr import Expr, ExprError, compile_expr
from core.provenance import parse_provenance
from core.surveys.choices import ChoiceLists, choice_lists, choices, with_synonyms
from core.surveys.model import Choice, Item, QType, Question, RepeatGroup, Survey
from core.surveys.sections import sections
from core.surveys.synonyms import synonyms

FORMS_DIR = Path(__file__).parent / "forms"
CONTEXT_NAMES = frozenset({"review_year", "is_urban"})
MEMBER_CONTEXT_NAMES = frozenset({"_index"})
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
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
    for a list that no form has. Raises one DataFileError listing every mistake of the form."""
    path = Path(path)
    errors = Errors()
    doc = load_mapping(path, _TOP_KEYS, "a survey file", errors)
    top: dict[str, Any] = {}
    for key, kind in (("id", str), ("version", (str, int, float)), ("title", str), ("purpose", str)):
        with errors.catch():
            top[key] = require(doc, key, path, kind)
    purpose = top.get("purpose")
    if purpose is not None and purpose not in PURPOSES:
        errors.add(DataFileError(path, line_of(doc), f"purpose must be one of {sorted(PURPOSES)}"))
        purpose = None
    lists = choice_lists(doc.get("choice_lists") or {}, path, errors)
    include_titles: dict[Path, str | None] = {}
    raw_questions: list = []
    with errors.catch():
        raw_questions = require(doc, "questions", path, list)
    raw_items = _expand_includes(raw_questions, path, lists, include_titles, errors)
    lists = with_synonyms(lists, path, errors)
    if lists_seen is not None:
        lists_seen.update(lists)

    # First pass: collect names so expressions may refer to any question of the form.
    hh_names: set[str] = set(CONTEXT_NAMES)
    member_names: set[str] = set(MEMBER_CONTEXT_NAMES)
    for raw, src in raw_items:
        if isinstance(raw, dict) and "group" in raw:
            for q in raw.get("questions") or []:
                if isinstance(q, dict) and "id" in q:
                    _add_name(member_names | hh_names, member_names, q, src, errors)
        elif isinstance(raw, dict) and "id" in raw:
            _add_name(hh_names | member_names, hh_names, raw, src, errors)

    parsed: list[Item | None] = []
    seen_ids: set[str] = set()
    for raw, src in raw_items:
        item: Item | None = None
        with errors.catch():
            if isinstance(raw, dict) and "group" in raw:
                item = _group(raw, src, hh_names, member_names, lists, seen_ids)
            else:
                item = _question(raw, src, hh_names, member_names, lists, in_member=False)
                _unique(item.id, seen_ids, src, raw)
        parsed.append(item)
    items, titles = sections(raw_items, parsed, path, include_titles, errors)

    if None not in parsed and not any(q.asked for q in _all_questions(items)):
        errors.add(DataFileError(path, line_of(doc), "the survey asks no question"))
    with errors.catch():
        parse_provenance(doc.get("provenance"), path)  # checked here, printed by `rasoat check`
    outputs = _outputs(doc, path, purpose, hh_names, member_names, errors) if purpose else {}
    head_name = doc.get("head_name")
    if head_name is not None and head_name not in hh_names:
        errors.add(DataFileError(path, line_of(doc), f"head_name '{head_name}' is not a household question"))
    prior_classes: dict[str, str] = {}
    with errors.catch():
        prior_classes = _prior_classes(doc, path)
    errors.raise_any()
    return Survey(
        id=top["id"],
        version=str(top["version"]),
        title=str(top["title"]),
        purpose=top["purpose"],
        items=tuple(items),
        outputs=outputs,
        path=str(path),
        head_name=head_name,
        basis=str(doc.get("basis", "")),
        context_names=CONTEXT_NAMES,
        prior_classes=prior_classes,
        sections=titles,
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
    """All forms in a folder (files starting with '_' are shared sections, not forms); one
    DataFileError lists the mistakes of every form."""
    errors = Errors()
    surveys: dict[str, Survey] = {}
    lists_seen: set[str] = set()
    for path in sorted(Path(directory).glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        with errors.catch():
            survey = load_survey(path, lists_seen)
            if survey.id in surveys:
                raise DataFileError(path, None, f"survey id '{survey.id}' is also used by {surveys[survey.id].path}")
            surveys[survey.id] = survey
    if not errors:  # a form that failed may not have named all its lists
        table = synonyms()
        for name in table.choices:
            if name not in lists_seen:
                errors.add(DataFileError(table.path, table.lines[name], f"no form has a choice list '{name}' "
                                         f"(lists: {', '.join(sorted(lists_seen))})"))
    errors.raise_any()
    return surveys


def _all_questions(items: list[Item]) -> list[Question]:
    out: list[Question] = []
    for item in items:
        out.extend(item.questions if isinstance(item, RepeatGroup) else [item])
    return out


def _add_name(known: set[str], target: set[str], raw: dict, src: Path, errors: Errors) -> None:
    """Note a question's name; a malformed or repeated one is recorded, and a malformed one
    still named, so expressions that use it do not add a second error for the same mistake."""
    qid = raw.get("id")
    if not isinstance(qid, str) or not ID_RE.match(qid):
        errors.add(DataFileError(src, line_of(raw), f"question id {qid!r} must match {ID_RE.pattern}"))
    elif qid in known:
        errors.add(DataFileError(src, line_of(raw), f"question id '{qid}' is used twice"))
    if isinstance(qid, str):
        target.add(qid)


def _unique(qid: str, seen: set[str], src: Path, raw: Any) -> None:
    if qid in seen:
        raise DataFileError(src, line_of(raw), f"question id '{qid}' is used twice")
    seen.add(qid)


def _expand_includes(
    raw_items: list, path: Path, lists: ChoiceLists, titles: dict[Path, str | None], errors: Errors
) -> list[tuple[Any, Path]]:
    """`- include: _file.yaml` splices a shared section (e.g. household identification);
    the section may bring its own choice lists. A section that cannot be read is left out."""
    out: list[tuple[Any, Path]] = []
    for raw in raw_items:
        if not (isinstance(raw, dict) and "include" in raw):
            out.append((raw, path))
            continue
        with errors.catch():
            out.extend(_include(path, raw, lists, titles, errors))
    return out


def _include(
    path: Path, raw: dict, lists: ChoiceLists, titles: dict[Path, str | None], errors: Errors
) -> list[tuple[Any, Path]]:
    inc = path.parent / str(raw["include"])
    if not inc.exists():
        raise DataFileError(path, line_of(raw), f"included file {inc.name} does not exist")
    section = load_yaml(inc)
    if not isinstance(section, dict):
        raise DataFileError(inc, None, "an included section must be a mapping with 'questions'")
    check_keys(section, {"choice_lists", "questions", "section"}, inc, errors)
    title = section.get("section")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        errors.add(DataFileError(inc, line_of(section), "section must be a non-empty title"))
        title = None
    titles[inc] = title
    for name, found in choice_lists(section.get("choice_lists") or {}, inc, errors).items():
        if name in lists:
            errors.add(DataFileError(inc, line_of(section), f"choice list '{name}' is defined twice"))
        lists[name] = found
    return [(item, inc) for item in require(section, "questions", inc, list)]


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
    lists: ChoiceLists,
    *,
    in_member: bool,
) -> Question:
    """One question; every mistake in it is reported, not only the first."""
    if not isinstance(raw, dict):
        raise DataFileError(src, None, f"each question must be a mapping, got {raw!r}")
    errors = Errors()
    check_keys(raw, _Q_KEYS, src, errors)
    qid = ""
    with errors.catch():
        qid = require(raw, "id", src, str)
    if not qid:
        errors.raise_any()
    qtype: QType | None = None
    try:
        qtype = QType(require(raw, "type", src, str))
    except ValueError:
        errors.add(DataFileError(src, line_of(raw),
                                 f"question '{qid}': type must be one of {', '.join(t.value for t in QType)}"))
    found: tuple[Choice, ...] = ()
    spec = raw.get("choices")
    if qtype is QType.CHOICE and isinstance(spec, str):
        if spec not in lists:
            errors.add(DataFileError(src, line_of(raw), f"question '{qid}': unknown choice list '{spec}'"))
        found = lists.get(spec, ())
    elif qtype is QType.CHOICE:
        found = choices(spec, src, raw, errors)
    elif qtype is not None and spec is not None:
        errors.add(DataFileError(src, line_of(raw), f"question '{qid}': only choice questions take choices"))
    if qtype is QType.CALCULATE and raw.get("expr") is None:
        errors.add(DataFileError(src, line_of(raw), f"calculate question '{qid}' needs expr"))
    if qtype is not None and qtype is not QType.CALCULATE and not raw.get("label"):
        errors.add(DataFileError(src, line_of(raw), f"question '{qid}' needs a label"))
    required = raw.get("required", True)
    if not isinstance(required, bool):
        errors.add(DataFileError(src, line_of(raw), f"question '{qid}': required must be true or false"))
    exprs: dict[str, Expr | None] = {}
    for key in ("min", "max", "relevant", "constraint", "expr"):
        with errors.catch():
            exprs[key] = _compile(raw, key, src, hh | {"value"} if key == "constraint" else hh, mem, in_member)
    errors.raise_any()
    assert qtype is not None  # a bad type was recorded above
    return Question(
        id=qid,
        type=qtype,
        label=str(raw.get("label", qid)),
        line=line_of(raw) or 0,
        hint=raw.get("hint"),
        required=required,
        choices=found,
        constraint_message=raw.get("constraint_message"),
        **exprs,
    )


def _group(
    raw: dict,
    src: Path,
    hh: set[str],
    mem: set[str],
    lists: ChoiceLists,
    seen: set[str],
) -> RepeatGroup:
    """A repeat group (the roster); its own mistakes and those of each of its questions."""
    errors = Errors()
    check_keys(raw, _G_KEYS, src, errors)
    gid = ""
    with errors.catch():
        gid = require(raw, "group", src, str)
    if not gid:
        errors.raise_any()
    if not ID_RE.match(gid) or len(gid) > 4:
        errors.add(DataFileError(
            src, line_of(raw), f"group id {gid!r} must be 1-4 lowercase letters (it goes in button data)"
        ))
    count_from = None
    with errors.catch():
        count_from = require(raw, "repeat_count", src, str)
        if count_from not in hh:
            raise DataFileError(src, line_of(raw), f"repeat_count '{count_from}' is not a household question")
    max_count = raw.get("max_count", 30)
    if not isinstance(max_count, int) or not 1 <= max_count <= MAX_MEMBERS:
        errors.add(DataFileError(src, line_of(raw), f"max_count must be a whole number from 1 to {MAX_MEMBERS}"))
    questions = []
    raw_questions: list = []
    with errors.catch():
        raw_questions = require(raw, "questions", src, list)
    for q in raw_questions:
        with errors.catch():
            if isinstance(q, dict) and "section" in q:
                raise DataFileError(src, line_of(q), f"group '{gid}': put section on the group, not on its questions")
            question = _question(q, src, hh, mem, lists, in_member=True)
            _unique(question.id, seen, src, q)
            questions.append(question)
    by_id = {q.id: q for q in questions}
    fields: dict[str, str | None] = {}
    for key, default, types in (("member_name", DEFAULT_MEMBER_NAME, {QType.TEXT}),
                                ("member_relation", DEFAULT_MEMBER_RELATION, {QType.CHOICE, QType.TEXT})):
        with errors.catch():
            fields[key] = _member_field(raw, key, default, types, by_id, src)
    label = relevant = None
    with errors.catch():
        label = str(require(raw, "label", src, str))
    with errors.catch():
        relevant = _compile(raw, "relevant", src, hh, mem, False)
    errors.raise_any()
    assert count_from is not None and label is not None
    return RepeatGroup(
        id=gid,
        label=label,
        count_from=count_from,
        max_count=max_count,
        questions=tuple(questions),
        line=line_of(raw) or 0,
        relevant=relevant,
        name_id=fields["member_name"],
        relation_id=fields["member_relation"],
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


def _outputs(
    doc: dict, path: Path, purpose: str, hh: set[str], mem: set[str], errors: Errors
) -> dict[str, Expr]:
    raw: Any = {}
    with errors.catch():
        raw = (doc.get("outputs") or {}) if purpose == "screening" else require(doc, "outputs", path, dict)
    need = OUTPUTS[purpose]
    missing = need - set(raw)
    if missing:
        errors.add(DataFileError(path, line_of(raw, line_of(doc)), f"outputs must define {', '.join(sorted(missing))}"))
    out: dict[str, Expr] = {}
    for key, src in raw.items():
        if key not in need | OPTIONAL_OUTPUTS:
            errors.add(DataFileError(path, line_of(raw), f"unknown output '{key}' for purpose {purpose}"))
            continue
        try:
            out[key] = compile_expr(src, hh, mem)
        except ExprError as exc:
            errors.add(DataFileError(path, line_of(raw), f"output {key}: {exc}"))
    return out
