"""`rasoat plan [PLAN_ID]`: the review plans, or one plan's notices and report submissions."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from bot.app import ChatApp
from bot.cli.command import Command
from core.app import active_plans
from core.config import Settings
from core.datafiles import load_data_files
from core.plans.status import plan_status


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_id", nargs="?", help="plan id; omit to list plans")


async def online(args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    plan_id: str | None = args.plan_id
    loaded = load_data_files().plans
    # one-year plans, and each several-year file as read for the review year when it covers it
    plans = {p.id: p for p in loaded if p.template is None}
    plans.update({p.id: p for p in service.plans})
    for p in loaded:
        if p.template is not None and not any(q.template == p.template for q in plans.values()):
            plans[p.id] = p
    if plan_id is None:
        active = {p.id for p in service.plans}
        for plan in plans.values():
            every = f"  (file {plan.path.name} for every year {plan.years[0]}-{plan.years[1]})" if plan.years else ""
            print(f"{plan.id:>16}  {plan.year}  {'ACTIVE' if plan.id in active else '      '}  {plan.title}{every}")
        return 0
    if plan_id not in plans:
        try:  # another year of a several-year file, e.g. lang_son_2028
            plans.update({p.id: p for p in active_plans(loaded, replace(settings, plans=(plan_id,)))})
        except ValueError:
            print(f"unknown plan {plan_id!r}; known: {', '.join(plans)}", file=sys.stderr)
            return 2
    async with service.db.read() as s:
        status = await plan_status(s, plans[plan_id])
    for n in status.notices:
        state = f"{n.status} ({n.sent}/{n.recipients} sent)" if n.status else "waiting"
        print(f"{n.notice.fire_at:%Y-%m-%d %H:%M}  {n.notice.kind:<16} {n.notice.key.split('/', 2)[2]:<40} {state}")
    for r in status.requests:
        print(f"report {r.key}: due {r.due}, {r.submissions} submissions")
    return 0


COMMAND = Command("plan", "review plans: list them, or show one's notices and submissions", arguments,
                  online=online)
