"""The plan's report requests as a desk: what a unit owes, what it receives, submitting one
(by button or with a file) and tracking who has submitted.

Who may do what follows the plan's levels: only an officer whose unit is at a request's
'from' level submits it, for that unit; only officers at its 'to' level or above see who
has submitted, and only for the units under them. The chat handlers and the decision step
(which marks the official-forms request as submitted) use the same desk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.commands import command_button, fit, slash
from core.chat.messages import OutMessage
from core.i18n import fmt_date, t
from core.plans.model import LEVEL_RANK, Plan, ReportRequest, request_visible
from core.plans.tracking import UnitIndex, owing, record, status, submissions
from core.storage.models import Unit, User

Pair = tuple[Plan, ReportRequest]
TRACK_LIST_LIMIT = 60


def fmt_when(plan: Plan, when: datetime) -> str:
    local = plan.local(when)
    return f"{fmt_date(local)} {local:%H:%M}"


class ReportDesk:
    def __init__(self, plans: list[Plan]) -> None:
        self.plans = plans

    def _visible(self, unit: Unit, now: datetime) -> list[Pair]:
        return [(p, r) for p in self.plans if p.units_configuration == unit.configuration
                for r in p.reports if request_visible(r, p.today(now))]

    def owed_by(self, unit: Unit, now: datetime) -> list[Pair]:
        return [(p, r) for p, r in self._visible(unit, now) if r.submitter == unit.level]

    def received_by(self, unit: Unit, now: datetime) -> list[Pair]:
        return [(p, r) for p, r in self._visible(unit, now) if LEVEL_RANK[unit.level] >= LEVEL_RANK[r.receiver]]

    @staticmethod
    def _find(pairs: list[Pair], arg: str) -> Pair | None:
        key = arg.strip().split()[0] if arg.strip() else ""
        exact = [(p, r) for p, r in pairs if p.request_key(r) == key]
        by_id = [(p, r) for p, r in pairs if r.id == key]
        return exact[0] if exact else by_id[0] if len(by_id) == 1 else None

    # ----- submitting ---------------------------------------------------------------------

    async def owed(self, s: AsyncSession, unit: Unit, now: datetime) -> list[Pair]:
        """What the unit owes now: its level's requests, less those only inspected units owe."""
        out = []
        for plan, request in self.owed_by(unit, now):
            only = await owing(s, plan, request)
            if only is None or unit.id in only:
                out.append((plan, request))
        return out

    async def submit(self, s: AsyncSession, user: User, unit: Unit | None, arg: str | None,
                     now: datetime) -> list[OutMessage]:
        if unit is None or user.role == "admin":
            return [OutMessage(t("submit_not_allowed"))]
        owed = await self.owed(s, unit, now)
        if not owed:
            return [OutMessage(t("submit_no_requests", unit=unit.name))]
        if not arg:
            return [await self._owed_list(s, unit, owed, now)]
        pair = self._find(owed, arg)
        if pair is None:
            return [OutMessage(t("submit_unknown", code=arg, submit=slash("submit_report")))]
        return [await self._record(s, user, unit, pair, now)]

    async def submit_file(self, s: AsyncSession, user: User, unit: Unit | None, arg: str | None, file_name: str,
                          file_path: str, now: datetime) -> list[OutMessage]:
        if unit is None or user.role == "admin":
            return [OutMessage(t("submit_not_allowed"))]
        owed = await self.owed(s, unit, now)
        # a file meant for another command, sent without its caption or with a typo in it
        other = t("file_other_commands", import_list=slash("import_list"), rules=slash("rules_import"))
        if not owed:
            return [OutMessage(t("file_not_expected", submit=slash("submit_report")) + "\n" + other)]
        pair = self._find(owed, arg) if arg else (owed[0] if len(owed) == 1 else None)
        if pair is None:
            keys = ", ".join(p.request_key(r) for p, r in owed)
            if arg:
                return [OutMessage(t("submit_unknown", code=arg, submit=slash("submit_report")) + "\n" + other)]
            return [OutMessage(t("submit_which_file", file=file_name, unit=unit.name, submit=slash("submit_report"),
                                 keys=keys) + "\n" + other)]
        return [await self._record(s, user, unit, pair, now, file_name, file_path)]

    async def _record(self, s: AsyncSession, user: User, unit: Unit, pair: Pair, now: datetime,
                      file_name: str | None = None, file_path: str | None = None) -> OutMessage:
        plan, request = pair
        first = await record(s, plan, request, unit, user, now, file_name, file_path)
        if not first:
            earlier = (await submissions(s, plan, request))[unit.id]
            key = "submit_again_file" if file_name else "submit_again"
            return OutMessage(t(key, unit=unit.name, report=request.title, file=file_name,
                                when=fmt_when(plan, earlier.submitted_at)))
        late = (plan.today(now) - request.due).days
        suffix = t("submit_late_suffix", days=late) if late > 0 else ""
        key = "submit_done_file" if file_name else "submit_done"
        return OutMessage(t(key, unit=unit.name, report=request.title, when=fmt_when(plan, now), late=suffix,
                            file=file_name))

    async def _owed_list(self, s: AsyncSession, unit: Unit, owed: list[Pair], now: datetime) -> OutMessage:
        lines = [t("submit_choose", unit=unit.name)]
        rows = []
        for plan, request in owed:
            done = (await submissions(s, plan, request)).get(unit.id)
            late = (plan.today(now) - request.due).days
            if done is not None:
                state = t("submit_state_done", when=fmt_when(plan, done.submitted_at))
            else:
                state = t("submit_state_late", days=late) if late > 0 else t("submit_state_open")
                key = plan.request_key(request)
                rows.append((command_button(fit(t("submit_button", report=request.title)), "submit_report", key),))
            lines.append(t("submit_line", report=request.title, due=fmt_date(request.due), state=state))
        keys = ", ".join(p.request_key(r) for p, r in owed)
        lines.append(t("submit_hint", submit=slash("submit_report"), keys=keys))
        return OutMessage("\n".join(lines), tuple(rows))

    # ----- tracking -----------------------------------------------------------------------

    async def track(self, s: AsyncSession, user: User, unit: Unit | None, arg: str | None,
                    now: datetime) -> list[OutMessage]:
        if unit is None or unit.level == "village":
            return [OutMessage(t("track_not_allowed"))]
        received = self.received_by(unit, now)
        if not received:
            return [OutMessage(t("track_none", unit=unit.name))]
        index = await UnitIndex.load(s, unit.configuration)
        pair = self._find(received, arg) if arg else (received[0] if len(received) == 1 else None)
        if pair is None:
            rows = []
            for plan, request in received:
                states = await status(s, index, plan, request, unit)
                done = sum(1 for r in states if r.submission is not None)
                key = plan.request_key(request)
                label = t("track_button", report=request.title, done=done, total=len(states))
                rows.append((command_button(fit(label), "track", key),))
            return [OutMessage(t("track_choose"), tuple(rows))]
        plan, request = pair
        states = await status(s, index, plan, request, unit)
        done = [r for r in states if r.submission is not None]
        missing = [r for r in states if r.submission is None]
        lines = [t("track_title", report=request.title, due=fmt_date(request.due), unit=unit.name, done=len(done),
                   total=len(states), missing=len(missing))]
        if done:
            lines.append(t("track_submitted_head"))
            for r in sorted(done, key=lambda r: r.submission.submitted_at)[:TRACK_LIST_LIMIT]:  # type: ignore[union-attr]
                late = r.late_days(plan, request, now)
                assert r.submission is not None
                lines.append(t("track_submitted_line", name=r.unit.name, when=fmt_when(plan, r.submission.submitted_at),
                               late=t("submit_late_suffix", days=late) if late else "",
                               file=t("track_file", file=r.submission.file_name) if r.submission.file_name else ""))
        if missing:
            lines.append(t("track_missing_head"))
            for r in missing[:TRACK_LIST_LIMIT]:
                late = r.late_days(plan, request, now)
                lines.append(t("track_missing_line", name=r.unit.name,
                               late=t("track_overdue_suffix", days=late) if late else ""))
        return [OutMessage("\n".join(lines))]
