"""The officers' read-only web view: a sub-application mounted at /web on the server that
already carries the webhooks and file links (bot/web.py), so it shares that server's limits on
slow clients. Pages are rendered on the server with Jinja2 (autoescaped), in Vietnamese, with
no script. Who may see what is decided by core.access.can, the function the bot's access
matrix uses; every page with personal data goes into the read audit (core/access_log.py)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.context import AppData
from bot.webview import chart, figures, records, sessions
from bot.webview.links import LoginClaim, LoginLinks
from bot.webview.security import guard
from core import access_log
from core.access import Action, can
from core.i18n import t
from core.procedure.steps import Stage
from core.reports.build import build_report
from core.storage.models import Household, Unit, User

HERE = Path(__file__).parent
PREFIX = "/web"
ID = r"{id:\d{1,9}}"
FIGURES_SECONDS = 60.0
FIGURES_KEPT = 2000


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["t"] = t
    env.filters["num"] = lambda v: t("web_unknown") if v is None else f"{round(v):,}".replace(",", ".")
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.2f}".replace(".", ",")
    env.filters["day"] = lambda d: d.strftime("%d/%m/%Y") if d else ""
    env.filters["when"] = lambda d: d.strftime("%d/%m/%Y %H:%M") if d else ""
    return env


class WebView:
    def __init__(self, data: AppData, public_url: str | None = None, figures_seconds: float = FIGURES_SECONDS) -> None:
        self.data = data
        self.figures_seconds = figures_seconds
        self.links = LoginLinks(Path(data.settings.data_dir), public_url or data.settings.public_url or "")
        self.env = _env()
        self.secure = (public_url or data.settings.public_url or "").startswith("https://")
        self._figures: dict[tuple[int, int], tuple[float, figures.Overview]] = {}
        self.app = web.Application(middlewares=[guard(self.page)])
        self.app.add_routes([
            web.get("/login/{token}", self.login),
            web.post("/logout", self.logout),
            web.get("/", self.home),
            web.get(f"/u/{ID}", self.unit_page),
            web.get(f"/u/{ID}/ho", self.households),
            web.get(f"/u/{ID}/baocao", self.reports),
            web.get(rf"/u/{ID}/baocao/{{rid:[0-9A-Za-z_.\-]{{1,32}}}}", self.download),
            web.get(f"/h/{ID}", self.household),
            web.get(rf"/h/{ID}/anh/{{fid:\d{{1,9}}}}", self.photo),
            web.get("/static/web.css", self.css),
            web.route("*", "/{tail:.*}", self.not_found),
        ])

    # ----- rendering --------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **values: Any) -> web.Response:
        html = self.env.get_template(name).render(prefix=PREFIX, **values)
        return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")

    def page(self, request: web.Request, status: int, title: str, message: str) -> web.Response:
        return self.render("message.html", status, title=t(title), message=t(message), user=None)

    async def css(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "web.css", headers={"Content-Type": "text/css"})

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound

    # ----- login ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.data.clock()

    async def login(self, request: web.Request) -> web.StreamResponse:
        claim = self.links.check(request.match_info["token"])
        if not isinstance(claim, LoginClaim):
            return self.page(request, 403, "web_refused_title", f"web_refused_{claim}")
        async with self.data.db.transaction() as s:
            current = await sessions.user_of(s, request.cookies.get(sessions.COOKIE), self.now())
            if current is not None and current.id != claim.user_id:
                return self.page(request, 403, "web_refused_title", "web_refused_other")
            opened = await sessions.open_session(s, claim, self.now())
            if isinstance(opened, str):
                return self.page(request, 403, "web_refused_title", f"web_refused_{opened}")
            token, user = opened
            access_log.record(s, "web_login", user, user.unit_id)
        # a page, not a redirect: a SameSite=Strict cookie set on a redirect that began on
        # another site (the chat app) would not be sent on the redirected request
        response = self.render("logged_in.html", user=user)
        response.set_cookie(sessions.COOKIE, token, max_age=sessions.SESSION_HOURS * 3600, path=PREFIX,
                            httponly=True, secure=self.secure or request.secure, samesite="Strict")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.transaction() as s:
            await sessions.end_session(s, request.cookies.get(sessions.COOKIE), self.now())
        response = self.page(request, 200, "web_logout", "web_logged_out")
        response.del_cookie(sessions.COOKIE, path=PREFIX)
        return response

    async def _user(self, s: Any, request: web.Request) -> User:
        user = await sessions.user_of(s, request.cookies.get(sessions.COOKIE), self.now())
        if user is None:
            raise _Refusal(401, "web_login_needed")
        return user

    async def _unit(self, s: Any, user: User, request: web.Request, action: Action = Action.VIEW) -> Unit:
        unit = await s.get(Unit, int(request.match_info["id"]))
        if unit is None or not await can(s, user, action, unit):  # the bot's own access rule
            raise _Refusal(403, "web_not_yours")
        return unit

    # ----- pages ------------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.read() as s:
            user = await self._user(s, request)
        if user.unit_id is None:
            raise _Refusal(403, "web_not_yours")
        raise web.HTTPSeeOther(f"{PREFIX}/u/{user.unit_id}")

    async def unit_page(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.read() as s:
            user = await self._user(s, request)
            unit = await self._unit(s, user, request)
            view = await self._overview(s, unit)
            parent = await s.get(Unit, unit.parent_id) if unit.parent_id else None
            up = parent if parent is not None and await can(s, user, Action.VIEW, parent) else None
            reports = await can(s, user, Action.REPORT, unit)
        return self.render("overview.html", user=user, view=view, chart=chart.chart(view.rows), up=up,
                           reports=reports)

    async def _overview(self, s: Any, unit: Unit) -> figures.Overview:
        """The figures of a unit, kept for FIGURES_SECONDS: counts only (no personal data). The
        builders take about a quarter of a second for a province of 200,000 households
        (docs/benchmarks.md), so officers opening the same overview within a minute share one
        computation instead of each taking a turn on the database."""
        key = (unit.id, self.data.settings.review_year)
        kept = self._figures.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        view = await figures.overview(s, self.data, unit, self.now())
        if len(self._figures) >= FIGURES_KEPT:
            self._figures.clear()
        self._figures[key] = (time.monotonic() + self.figures_seconds, view)
        return view

    async def households(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            page = int(q.get("p", "1")) if len(q.get("p", "1")) < 6 else 0
        except ValueError:
            page = 0
        flt = records.Filters(q.get("q", "").strip()[:100], q.get("cls", ""), q.get("stage", ""),
                              q.get("changed") == "1", page)
        if page < 1 or (flt.cls and flt.cls not in records.CLASSES) or (flt.stage and flt.stage not in set(Stage)):
            raise _Refusal(400, "web_bad_request")
        async with self.data.db.transaction() as s:
            user = await self._user(s, request)
            unit = await self._unit(s, user, request)
            items, count = await records.household_list(s, unit, self.data.settings.review_year, flt,
                                                        records.head_id_keys(self.data.forms))
            access_log.record(s, "web_list", user, unit.id, detail={"shown": len(items), "page": page})

        def link(**change: Any) -> str:
            query = {"q": flt.q, "cls": flt.cls, "stage": flt.stage, "changed": "1" if flt.changed else "",
                     "p": flt.page} | change
            return f"{PREFIX}/u/{unit.id}/ho?" + urlencode({k: v for k, v in query.items() if v})

        pages = max(1, -(-count // records.PAGE))
        return self.render("households.html", user=user, unit=unit, items=items, count=count, flt=flt,
                           classes=records.CLASSES, stages=[s.value for s in Stage], link=link, pages=pages)

    async def _visible(self, s: Any, request: web.Request) -> tuple[User, Household, Unit]:
        """The signed-in user and the household the address names, with its village; refused
        (403) when the household is not in the user's area, as the chat refuses it."""
        user = await self._user(s, request)
        household = await s.get(Household, int(request.match_info["id"]))
        village = await s.get(Unit, household.village_id) if household is not None else None
        if household is None or village is None or not await can(s, user, Action.VIEW, village):
            raise _Refusal(403, "web_not_yours")
        return user, household, village

    async def household(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.transaction() as s:
            user, household, village = await self._visible(s, request)
            shown = await records.detail(s, household, self.data.forms, t("web_member", n="{n}"))
            access_log.record(s, "web_household", user, village.id, household_id=household.id)
        return self.render("household.html", user=user, d=shown, h=household, reason=self._reason(household))

    def _reason(self, h: Household) -> str | None:
        """The classification's reason in the bot's own words (core/classification/render.py)."""
        pack = next((p for p in self.data.packs if p.id == h.pack_id), None)
        if not h.outcome or pack is None:
            return None
        b1 = h.b1_score is not None and h.outcome in ("poor", "near_poor", "not_poor")
        return t(f"cls_reason_b1_{h.outcome}" if b1 else f"cls_reason_{h.outcome}", min=pack.poor_min_deprived)

    async def photo(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.transaction() as s:
            user, household, village = await self._visible(s, request)
            file = await s.get(records.HouseholdFile, int(request.match_info["fid"]))
            if file is None or file.household_id != household.id or not file.path:
                raise web.HTTPNotFound
            access_log.record(s, "web_photo", user, village.id, household_id=household.id)
        path = Path(file.path).resolve()
        root = Path(self.data.settings.data_dir).resolve()
        if root not in path.parents or not path.is_file():
            raise web.HTTPNotFound
        return web.FileResponse(path)

    async def reports(self, request: web.Request) -> web.StreamResponse:
        async with self.data.db.read() as s:
            user = await self._user(s, request)
            unit = await self._unit(s, user, request, Action.REPORT)
        return self.render("reports.html", user=user, unit=unit, names=self.data.reports.names())

    async def download(self, request: web.Request) -> web.StreamResponse:
        rid = request.match_info["rid"]
        if rid not in dict(self.data.reports.names()):
            raise web.HTTPNotFound
        out = Path(self.data.settings.data_dir) / "reports"
        async with self.data.db.transaction() as s:
            user = await self._user(s, request)
            unit = await self._unit(s, user, request, Action.REPORT)
            # the very builder /baocao's jobs call: one builder, not two
            files = await build_report(s, self.data.reports, rid, unit, self.data.settings.review_year, out,
                                       self.data.forms, chart=False)
            access_log.record(s, "report", user, unit.id, detail={"report": rid, "via": "web"})
        book = files[0]
        return web.FileResponse(book, headers={
            "Content-Disposition": f"attachment; filename=\"{book.name}\"",
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})


class _Refusal(web.HTTPException):
    """A refusal with a page of its own words (the middleware turns `key` into the page)."""

    def __init__(self, status: int, key: str) -> None:
        self.status_code = status
        super().__init__()
        self.key = key

