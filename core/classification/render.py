"""The classification result in words, for the village head who must explain it to the household."""

from __future__ import annotations

from core.classification.classify import Classification, Outcome
from core.classification.pack import RulePack
from core.classification.provisional import Part, summary
from core.i18n import fmt_money, t


def render(c: Classification, pack: RulePack, parts: tuple[Part, ...] = ()) -> str:
    """`parts`: the provisional rules the result used; any makes it «TẠM TÍNH», said first."""
    lines = [t("cls_title", outcome=t(f"outcome_{c.outcome.value}"))]
    if parts:
        lines.append(t("rp_result_mark", parts=summary(parts)))
    lines.append(t("cls_basis", area=t(f"area_{c.area}"), pack=pack.title))
    if c.note:
        lines.append(t(c.note))
    if c.measure == "income" and c.income_per_capita is not None and c.line is not None:
        key = "cls_income_le" if c.income_per_capita <= c.line else "cls_income_gt"
        lines.append(t(key, income=fmt_money(c.income_per_capita), line=fmt_money(c.line)))
    elif c.measure == "b1" and c.b1_score is not None and c.line is not None:
        key = "cls_b1_le" if c.b1_score <= c.line else "cls_b1_gt"
        lines.append(t(key, b1=c.b1_score, line=c.line))
    if c.income_assessed is not None:
        lines.append(t("cls_income_assessed", basis=c.income_assessed or "-"))
    if c.b1 is not None:
        lines += _b1_lines(c, pack)
    if c.average_band is not None and c.income_per_capita is not None:
        lines.append(t("cls_band", low=fmt_money(c.average_band[0]), high=fmt_money(c.average_band[1])))
    if c.outcome in (Outcome.POOR, Outcome.NEAR_POOR, Outcome.NOT_POOR) or c.deprived:
        lines.append(t("cls_deprived", count=len(c.deprived), total=c.indicator_count,
                       min=c.poor_min_deprived, b2=c.b2_score))
        lines += [t("cls_deprived_item", number=i.number, name=i.name, service=i.service) for i in c.deprived]
    lines.append(t(_reason_key(c), min=c.poor_min_deprived))
    return "\n".join(lines)


def _b1_lines(c: Classification, pack: RulePack) -> list[str]:
    """The score as on the paper form: base, then each answer's points, so an officer can
    check it line by line; a provisional table says so every time it is used."""
    assert c.b1 is not None
    b1 = c.b1
    lines = [t("cls_b1_head", total=b1.total, scheme=b1.scheme_label), t("cls_b1_base", points=b1.base)]
    lines += [t("cls_b1_item", label=i.label, answer=i.answer, points=f"{i.points:+d}") for i in b1.contributions]
    lines += [t("cls_b1_unanswered", label=label) for label in b1.unanswered]
    table = pack.b1
    if table is not None and table.provenance is not None and table.provenance.provisional:
        lines.append(t("cls_b1_provisional"))
    return lines


def _reason_key(c: Classification) -> str:
    """The reason of the route that decided: a household scored on B1 (its income never asked)
    is told about its score, never about an income."""
    if c.measure == "b1" and c.outcome in (Outcome.POOR, Outcome.NEAR_POOR, Outcome.NOT_POOR):
        return f"cls_reason_b1_{c.outcome.value}"
    return f"cls_reason_{c.outcome.value}"
