"""A household's class at the start of the review (poor, near-poor, none), the one rule every
output reads: the posted list, the decision's lists, the certificates, the national export and
the Biểu 7.x start-of-year columns.

Last year's list, when the commune imported it, is the decision the start of the year stands on
("theo Quyết định phê duyệt của cấp có thẩm quyền"), so it wins over what a village head
answered at «Đầu kỳ». A household not on the list has only its Phiếu B's answer (a household
added during the year, or a commune that never imported a list); with neither, it is unknown.
The rule is written twice, once for objects in Python and once as a column for the reports'
SQL, side by side here so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

from core.procedure.models import Review
from core.storage.models import Household


def start_class(household: Household | Any, review: Review | Any | None) -> str | None:
    """`household`: a Household (or a row with `prior_class`); `review`: its Review, if any."""
    listed = getattr(review, "listed_class", None) if review is not None else None
    return listed or household.prior_class or None


def start_class_column(listed: Any = Review) -> ColumnElement[str]:
    """The same rule in SQL. `listed`: the Review entity (or an alias of it) the query joins
    to the household with an outer join, so a household with no review row falls back to its
    Phiếu B's answer."""
    return func.coalesce(listed.listed_class, Household.prior_class)  # type: ignore[no-any-return]


def on_last_years_list(listed: Any = Review) -> ColumnElement[bool]:
    """A household that was on last year's list: it counts at the start of the year whatever
    its stage now (never surveyed again, sent back by the meeting, or decided)."""
    return listed.listed_class.is_not(None)  # type: ignore[no-any-return]
