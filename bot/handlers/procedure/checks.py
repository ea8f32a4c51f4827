"""Data-quality checks (/kiemtra) and the national-software export (/xuatdl) of a commune.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.context import Ctx
from bot.conversations.session import covered
from bot.routes import COMMUNE, Route, group
from core import access_log
from core.chat.commands import command_button, slash
from core.chat.messages import OutMessage
from core.i18n import t
from core.procedure import checks
from core.procedure.export import national_rows
from core.procedure.steps import record_step


def _short(code: str) -> str:
    return hashlib.sha1(code.encode()).hexdigest()[:10]


async def run_checks(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    year = ctx.settings.review_year
    words = (arg or "").split()
    every = await checks.findings(ctx.s, commune, year)
    if len(words) == 2 and words[0] == "ok":
        finding = next((f for f in every if _short(f.code) == words[1] and f.kind not in checks.INFORMATION), None)
        if finding is None:
            return [OutMessage(t("check_unknown", cmd=slash("checks")))]
        if await checks.confirm(ctx.s, commune, finding.code, ctx.me.id):
            for hid in finding.households:
                household = await covered(ctx, hid, lock=False)
                if household is not None:
                    await record_step(ctx.s, household, "check_ok", ctx.me.id, {"kind": finding.kind})
        return [OutMessage(t("check_confirmed", kind=t(f"check_{finding.kind}", ids=_ids(finding), **finding.params)))]
    open_ = await checks.blocking(ctx.s, commune, year)
    if not every:
        return [OutMessage(t("check_clean", commune=commune.name))]
    lines = [t("check_title", commune=commune.name, n=len(every), open=len(open_))]
    rows = []
    for f in every:
        mark = "⏳" if f.kind in checks.INFORMATION else "⚠️" if f in open_ else "✔️"
        lines.append(f"{mark} {t(f'check_{f.kind}', ids=_ids(f), **f.params)}")
        if f in open_:
            rows.append((command_button(t("btn_check_ok", ids=_ids(f))[:40], "checks", f"ok {_short(f.code)}"),))
    if any(f.kind in checks.INFORMATION for f in every):
        lines.append(t("check_pending_hint", cmd=slash("recognise")))
    lines.append(t("check_hint"))
    return [OutMessage("\n".join(lines), tuple(rows[:20]))]


def _ids(f: checks.Finding) -> str:
    return ", ".join(f"#{h}" for h in f.households)


async def export_national(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    commune = await ctx.unit()
    if commune is None or commune.level != "commune":
        return [OutMessage(t("proc_commune_only"))]
    survey = ctx.data.forms["phieu_b"]
    # with the generated reports, deleted once its link has expired: every ID number of the
    # commune in clear, needed only until it is sent
    name = f"quoc_gia_{commune.code or commune.id}_{ctx.settings.review_year}.csv"
    path = Path(ctx.settings.data_dir) / "reports" / name
    n = await national_rows(ctx.s, commune, survey, ctx.settings.review_year, path)
    access_log.record(ctx.s, "export", ctx.me, commune.id, detail={"report": "quoc_gia", "rows": n})
    return [OutMessage(t("export_done", n=n), document=str(path))]


ROUTES: tuple[Route, ...] = group(
    (Route("checks", run_checks), Route("export_national", export_national)),
    roles=COMMUNE, denied="proc_commune_only")
