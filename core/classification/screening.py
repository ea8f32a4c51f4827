"""Phiếu A's stop rule as data, and the pure decision "go on to Phiếu B: yes/no and why".

The rule is counted per group (a decisive criterion stops the review on its own; lesser ones
only together), so the reasons can name exactly which criteria stopped a household: the
household may dispute them, and the officer must be able to say which answer decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.expr import Expr, ExprError, compile_expr
from core.provenance import Provenance, parse_provenance
from core.surveys.evaluate import FormView
from core.surveys.loader import CONTEXT_NAMES, load_survey
from core.surveys.model import Survey

RULES_DIR = Path(__file__).parent / "phieu_a"
PHIEU_A = Path(__file__).parent.parent / "surveys" / "screening" / "phieu_a.yaml"
_KEYS = {"id", "form", "provenance", "stop_when", "criteria"}


@dataclass(frozen=True)
class Criterion:
    code: str
    group: str
    label: str
    when: Expr
    line: int


@dataclass(frozen=True)
class StopGroup:
    group: str
    at_least: int
    label: str


@dataclass(frozen=True)
class StopRule:
    id: str
    form: str
    stop_when: tuple[StopGroup, ...]
    criteria: tuple[Criterion, ...]
    provenance: Provenance | None
    path: str


@dataclass(frozen=True)
class Screening:
    go_on: bool  # True: go on to Phiếu B
    met: tuple[Criterion, ...]  # every criterion the household meets
    stopped_by: tuple[StopGroup, ...]  # the groups that reached their count (empty when go_on)
    groups: tuple[StopGroup, ...] = ()  # every group of the rule, to say none was reached


def load_stop_rule(path: str | Path, survey: Survey) -> StopRule:
    """Read the rule and compile every criterion against the Phiếu A form's question ids."""
    path = Path(path)
    return stop_rule_from_doc(load_mapping(path, _KEYS, "a Phiếu A stop rule"), path, survey)


def stop_rule_from_doc(doc: dict, path: str | Path, survey: Survey) -> StopRule:
    """The one check of a stop rule, read from its file or from a signed version (core/rules/).
    Every mistake is reported at once; a group's count is checked only when its criteria all read."""
    errors = Errors()
    check_keys(doc, _KEYS, path, errors)
    head: dict[str, str] = {}
    for key in ("id", "form"):
        with errors.catch():
            head[key] = str(require(doc, key, path, str))
    if head.get("form", survey.id) != survey.id:
        errors.add(DataFileError(path, line_of(doc), f"form '{head['form']}' is not the screening form '{survey.id}'"))
    names = {q.id for q in survey.household_questions()} | CONTEXT_NAMES
    raw_groups: list = []
    with errors.catch():
        raw_groups = require(doc, "stop_when", path, list)
    groups = errors.each(raw_groups, lambda raw: _group(raw, path, errors))
    raw_criteria: list = []
    with errors.catch():
        raw_criteria = require(doc, "criteria", path, list)
    groups_ok = len(groups) == len(raw_groups)
    known = {g.group for g in groups}
    criteria: list[Criterion] = []
    for raw in raw_criteria:
        with errors.catch():
            criteria.append(_criterion(raw, path, survey, names, known if groups_ok else None, criteria, errors))
    if groups_ok and len(criteria) == len(raw_criteria):
        for g in groups:
            if sum(c.group == g.group for c in criteria) < g.at_least:
                errors.add(DataFileError(path, line_of(doc),
                                         f"group '{g.group}' has fewer criteria than at_least {g.at_least}"))
    provenance = None
    with errors.catch():
        provenance = parse_provenance(doc.get("provenance"), path)
    errors.raise_any()
    return StopRule(head["id"], head["form"], tuple(groups), tuple(criteria), provenance, str(path))


def _group(raw: object, path: str | Path, errors: Errors) -> StopGroup:
    if isinstance(raw, dict):
        check_keys(raw, {"group", "at_least", "label"}, path, errors)
    at_least = require(raw, "at_least", path, int)
    if at_least < 1:
        raise DataFileError(path, line_of(raw), "at_least must be 1 or more")
    return StopGroup(str(require(raw, "group", path, str)), at_least, str(require(raw, "label", path, str)))


def _criterion(raw: object, path: str | Path, survey: Survey, names: set[str], known: set[str] | None,
               before: list[Criterion], errors: Errors) -> Criterion:
    """One criterion; its group is checked only when every group read (`known` is None if not)."""
    if isinstance(raw, dict):
        check_keys(raw, {"code", "group", "label", "when"}, path, errors)
    code, group = str(require(raw, "code", path, str)), str(require(raw, "group", path, str))
    label = str(require(raw, "label", path, str))
    if known is not None and group not in known:
        raise DataFileError(path, line_of(raw), f"criterion '{code}': group '{group}' is not in stop_when")
    if any(c.code == code for c in before):
        raise DataFileError(path, line_of(raw), f"criterion '{code}' is defined twice")
    try:
        when = compile_expr(require(raw, "when", path, str), names, set())
    except ExprError as exc:
        raise DataFileError(path, line_of(raw), f"criterion '{code}' against form {survey.key}: {exc}") from exc
    return Criterion(code, group, label, when, line_of(raw) or 0)


def screen(rule: StopRule, view: FormView) -> Screening:
    """Go on to Phiếu B unless a group of criteria reaches its count."""
    met = tuple(c for c in rule.criteria if c.when.truthy(view.scope))
    stopped = tuple(g for g in rule.stop_when if sum(c.group == g.group for c in met) >= g.at_least)
    return Screening(not stopped, met, stopped, rule.stop_when)


def load_phieu_a(rule_name: str = "tt07_2021") -> tuple[Survey, StopRule]:
    survey = load_survey(PHIEU_A)
    return survey, load_stop_rule(RULES_DIR / f"{rule_name}.yaml", survey)


def explain(result: Screening) -> str:
    """The decision in words, naming the criteria that decided it."""
    from core.i18n import t

    if result.go_on:  # why it goes on: no stop condition reached, and what the household does have
        groups = "; ".join(g.label for g in result.groups)
        lines = [t("pa_go_on"), t("pa_go_on_reason" if result.met else "pa_go_on_reason_none", groups=groups)]
        lines += [t("pa_met_item", label=c.label) for c in result.met]
        return "\n".join(lines)
    lines = [t("pa_stop", groups="; ".join(g.label for g in result.stopped_by))]
    stopping = {g.group for g in result.stopped_by}
    lines += [t("pa_met_item", label=c.label) for c in result.met if c.group in stopping]
    return "\n".join(lines)
