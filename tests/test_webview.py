"""The officers' web view in a real headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) against the server on 127.0.0.1: login by the bot's link, the figures
beside /tiendo and Biểu 7.1, scope, refusals, headers, the masked ID, the workbook, bad input.

Selenium blocks, the server runs on the test's event loop: every browser call goes through a
thread (Browser), so the server keeps answering while the browser waits."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
import pytest
from sqlalchemy import select

from bench.dataset import seed
from bot.app import ChatApp, build_app
from bot.web import WebServer
from bot.webview import PREFIX, WebView
from core.access import Role
from core.accounts_admin import set_disabled
from core.chat.messages import ChatRef, Incoming
from core.config import Settings
from core.reports.build import build_report
from core.storage.db import Database
from core.storage.models import Answer, Household, Unit, User
from tests.conftest import IN_CI

ID_NUMBER = "020180009876"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _missing() -> str | None:
    for path in (CHROMIUM, DRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (./test.sh installs Debian's chromium and chromium-driver when apt-get works)"
    return None


class Browser:
    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def get(self, url: str) -> str:
        await asyncio.to_thread(self.driver.get, url)
        return await self.source()

    async def source(self) -> str:
        return await asyncio.to_thread(lambda: self.driver.page_source)

    async def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return await asyncio.to_thread(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text)

    async def texts(self, css: str) -> list[str]:
        from selenium.webdriver.common.by import By

        return await asyncio.to_thread(lambda: [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)])

    async def click(self, css: str) -> None:
        """Click something that loads a page, and wait for the page it left to go (a form's
        submit returns before the next page is there, which a busy machine shows)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.expected_conditions import staleness_of
        from selenium.webdriver.support.wait import WebDriverWait

        def click() -> None:
            element = self.driver.find_element(By.CSS_SELECTOR, css)
            element.click()
            WebDriverWait(self.driver, 10).until(staleness_of(element))

        await asyncio.to_thread(click)

    async def cookie(self) -> str | None:
        got = await asyncio.to_thread(self.driver.get_cookie, "rasoat_web")
        return got["value"] if got else None

    async def screenshot(self, path: Path, width: int) -> None:
        def shoot() -> None:
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, min(int(height) + 40, 4000))
            self.driver.save_screenshot(str(path))

        await asyncio.to_thread(shoot)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"the browser tests are required in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rasoat-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclasses.dataclass
class Site:
    service: ChatApp
    view: WebView
    base: str
    browser: Browser
    users: dict[str, User]
    commune: Unit
    villages: list[Unit]
    other_commune: Unit

    def link(self, who: str, now: float | None = None) -> str:
        return self.view.links.url(self.users[who].id, now)

    async def login(self, who: str) -> str:
        await asyncio.to_thread(self.browser.driver.delete_all_cookies)
        return await self.browser.get(self.link(who))


@pytest.fixture
async def site(settings: Settings, db: Database, chromium: Any) -> AsyncIterator[Site]:
    service = await build_app(dataclasses.replace(settings, public_url="http://127.0.0.1"), db)
    await seed(db, 400, config="65", villages_per_commune=2)
    async with db.transaction() as s:
        communes = (await s.scalars(select(Unit).where(Unit.level == "commune").order_by(Unit.code))).all()
        commune, other = communes[0], communes[1]
        villages = list((await s.scalars(select(Unit).where(Unit.parent_id == commune.id).order_by(Unit.id))).all())
        province = await s.scalar(select(Unit).where(Unit.level == "province"))
        rows = {"officer": User(channel="telegram", external_id="501", display_name="Cán bộ xã", role=Role.COMMUNE,
                                unit_id=commune.id, chat_id="501"),
                "head": User(channel="telegram", external_id="502", display_name="Trưởng thôn", role=Role.VILLAGE_HEAD,
                             unit_id=villages[0].id, chat_id="502"),
                "province": User(channel="telegram", external_id="503", display_name="Cán bộ tỉnh",
                                 role=Role.PROVINCE, unit_id=province.id, chat_id="503")}
        s.add_all(rows.values())
        # a few drafts, so /tiendo's three figures all differ from zero somewhere
        drafts = (await s.scalars(select(Household).where(Household.village_id == villages[1].id).limit(2))).all()
        for h in drafts:
            h.status, h.outcome = "draft", None
        known = await s.scalar(select(Household).where(Household.village_id == villages[0].id).order_by(
            Household.id.desc()).limit(1))
        s.add(Answer(household_id=known.id, key="chu_ho_cccd", value=ID_NUMBER))
    view = WebView(service.data, "http://127.0.0.1")
    server = WebServer("127.0.0.1", 0, None, [])
    server.app.add_subapp(PREFIX, view.app)
    port = await server.start()
    view.links.public_url = f"http://127.0.0.1:{port}"
    browser = Browser(chromium)
    await asyncio.to_thread(chromium.delete_all_cookies)
    try:
        yield Site(service, view, f"http://127.0.0.1:{port}{PREFIX}", browser, rows, commune, villages, other)
    finally:
        await server.stop()


async def test_login_by_link_opens_the_overview(site: Site) -> None:
    page = await site.login("officer")
    assert site.commune.name in await site.browser.text("#unit-name")
    assert "Cán bộ xã" in page
    assert await site.browser.cookie()


def _ints(text: str) -> int:
    return int(text.replace(".", "")) if text.replace(".", "").isdigit() else -1


async def test_overview_figures_equal_tiendo_and_bieu_7_1(site: Site, tmp_path: Path) -> None:
    await site.login("officer")
    rows = await site.browser.texts("#progress tbody tr")
    reply = await site.service.handle(ChatRef("telegram", "501", "501"), Incoming(text="/tiendo"))
    chat = reply.messages[0].text
    assert len(rows) == len(site.villages)
    for village in site.villages:
        line = next(x for x in chat.splitlines() if village.name in x)
        submitted, drafts, remaining = map(int, re.findall(r"\d+", line.split(":", 1)[1]))
        row = next(r for r in rows if r.startswith(village.name))
        figures = [_ints(x) for x in row[len(village.name):].split()]
        assert figures[:3] == [submitted, drafts, remaining], (row, line)
    # Biểu 7.1 of the same commune, from the builder /baocao's jobs call
    async with site.service.db.read() as s:
        book = (await build_report(s, site.service.reports, "7.1", site.commune, 2026, tmp_path,
                                   site.service.forms, chart=False))[0]
    sheet = openpyxl.load_workbook(book).active
    in_book = {}
    for row in sheet.iter_rows(values_only=True):
        name = next((v for v in row if isinstance(v, str) and any(v == u.name for u in site.villages)), None)
        if name is not None:
            numbers = [v for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
            in_book.setdefault(name, numbers)
    rates = await site.browser.texts("#rates tbody tr")
    assert len(in_book) == len(site.villages)
    for village in site.villages:
        row = next(r for r in rates if r.startswith(village.name))
        poor, poor_rate, _before, near, near_rate, _ = row[len(village.name):].split()
        numbers = in_book[village.name]
        total = numbers[numbers.index(_ints(poor)) - 1] if _ints(poor) in numbers else None
        assert _ints(poor) in numbers and _ints(near) in numbers, (row, numbers)
        assert float(poor_rate.replace(",", ".")) in [round(float(v), 2) for v in numbers], (row, numbers, total)
        assert float(near_rate.replace(",", ".")) in [round(float(v), 2) for v in numbers], (row, numbers)


async def test_a_village_head_cannot_reach_another_village_by_editing_the_url(site: Site) -> None:
    await site.login("head")
    own = await site.browser.get(f"{site.base}/u/{site.villages[0].id}/ho")
    assert "Chủ hộ" in own
    for path in (f"/u/{site.villages[1].id}", f"/u/{site.villages[1].id}/ho", f"/u/{site.commune.id}",
                 f"/u/{site.other_commune.id}/ho"):
        await site.browser.get(site.base + path)
        assert await site.browser.text("#message") == "Bạn không có quyền xem đơn vị hoặc hộ này.", path
    async with site.service.db.read() as s:
        other = await s.scalar(select(Household.id).where(Household.village_id == site.villages[1].id).limit(1))
    await site.browser.get(f"{site.base}/h/{other}")
    assert "không có quyền" in await site.browser.text("#message")


async def test_an_expired_forged_or_reused_link_is_refused(site: Site) -> None:
    link = site.link("officer")
    await site.browser.get(link)
    assert await site.browser.cookie()
    await asyncio.to_thread(site.browser.driver.delete_all_cookies)
    await site.browser.get(link)  # the same link again
    assert "đã được dùng" in await site.browser.text("#message")
    await site.browser.get(site.link("officer", now=time.time() - 601))
    assert "hết hạn" in await site.browser.text("#message")
    await site.browser.get(link[:-3] + ("000" if not link.endswith("000") else "111"))
    assert "không hợp lệ" in await site.browser.text("#message")
    assert await site.browser.cookie() is None


async def test_another_users_link_is_refused_while_a_session_is_open(site: Site) -> None:
    await site.login("officer")
    await site.browser.get(site.link("head"))
    assert "người khác" in await site.browser.text("#message")


async def test_logout_ends_the_session(site: Site) -> None:
    await site.login("officer")
    token = await site.browser.cookie()
    await site.browser.click("#logout")
    assert "Đã đăng xuất" in await site.browser.text("#message")
    assert await site.browser.cookie() is None
    async with aiohttp.ClientSession(cookies={"rasoat_web": token or ""}) as http, \
            http.get(f"{site.base}/u/{site.commune.id}") as r:  # the old cookie is dead
        assert r.status == 401


async def test_disabling_the_user_ends_the_session_at_once(site: Site) -> None:
    await site.login("officer")
    async with site.service.db.transaction() as s:
        await set_disabled(s, None, await s.get(User, site.users["officer"].id), True)
    await site.browser.get(f"{site.base}/u/{site.commune.id}")
    assert "Phiên đã kết thúc" in await site.browser.text("#message")


async def test_headers_csp_no_framing_no_store(site: Site) -> None:
    await site.login("officer")
    token = await site.browser.cookie()
    async with aiohttp.ClientSession(cookies={"rasoat_web": token or ""}) as http:
        for path in (f"/u/{site.commune.id}", f"/u/{site.villages[0].id}/ho", "/nothing-here"):
            async with http.get(site.base + path) as r:
                csp = r.headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
                assert r.headers["X-Frame-Options"] == "DENY"
                assert r.headers["Cache-Control"] == "no-store"
                assert "<script" not in await r.text()
    page = await site.browser.source()
    assert "<script" not in page


async def test_the_household_page_shows_the_masked_id(site: Site) -> None:
    await site.login("officer")
    async with site.service.db.read() as s:
        hid = await s.scalar(select(Household.id).where(Household.village_id == site.villages[0].id).order_by(
            Household.id.desc()).limit(1))
    value = ID_NUMBER
    page = await site.browser.get(f"{site.base}/h/{hid}")
    assert value not in page  # the whole number never reaches the browser
    assert "*" * (len(value) - 3) + value[-3:] in page
    listing = await site.browser.get(f"{site.base}/u/{site.villages[0].id}/ho")
    assert value not in listing and value[-3:] in listing
    async with site.service.db.read() as s:
        from core.storage.models import AccessLog

        actions = (await s.scalars(select(AccessLog.action).where(AccessLog.user_id == site.users["officer"].id))).all()
    assert "web_household" in actions and "web_list" in actions


async def test_households_are_searchable_and_filterable(site: Site) -> None:
    await site.login("officer")
    async with site.service.db.read() as s:
        name = await s.scalar(select(Household.head_name).where(Household.village_id == site.villages[0].id).limit(1))
        poor = await s.scalar(select(Household.id).where(Household.village_id.in_([v.id for v in site.villages]),
                                                         Household.outcome == "poor").limit(1))
    await site.browser.get(f"{site.base}/u/{site.commune.id}/ho?q={name}")
    found = await site.browser.texts("#households tbody tr td:first-child a")
    assert name in found and all(name in x for x in found)
    await site.browser.get(f"{site.base}/u/{site.commune.id}/ho?cls=poor")
    shown = await site.browser.texts("#households tbody tr td:nth-child(4)")
    assert all(x == "HỘ NGHÈO" for x in shown) and (poor is None or shown)


async def test_a_workbook_download_matches_baocao(site: Site, tmp_path: Path) -> None:
    await site.login("officer")
    token = await site.browser.cookie()
    async with aiohttp.ClientSession(cookies={"rasoat_web": token or ""}) as http, \
            http.get(f"{site.base}/u/{site.commune.id}/baocao/7.1") as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        (tmp_path / "web.xlsx").write_bytes(await r.read())
    async with site.service.db.read() as s:
        book = (await build_report(s, site.service.reports, "7.1", site.commune, 2026, tmp_path / "bot",
                                   site.service.forms, chart=False))[0]

    def cells(path: Path) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]

    assert cells(tmp_path / "web.xlsx") == cells(book)
    await site.login("head")  # a village head gets no reports, as in the bot
    async with aiohttp.ClientSession(cookies={"rasoat_web": await site.browser.cookie() or ""}) as http, \
            http.get(f"{site.base}/u/{site.villages[0].id}/baocao/7.1") as r:
        assert r.status == 403


async def test_bad_input_gets_a_clear_page_never_a_traceback(site: Site) -> None:
    await site.login("officer")
    token = await site.browser.cookie()
    paths = {"/u/abc": 404, "/u/99999999999999999999": 404, "/u/123456789": 403, "/u/-1": 404, "/h/0": 403,
             "/u/%ZZ": 404, f"/u/{site.commune.id}/ho?p=abc": 400, f"/u/{site.commune.id}/ho?cls=rich": 400,
             f"/u/{site.commune.id}/ho?q=" + "x" * 5000: 414, f"/u/{site.commune.id}/baocao/nope": 404,
             f"/u/{site.commune.id}/ho?q=%27%3B--%3Cb%3E": 200}
    async with aiohttp.ClientSession(cookies={"rasoat_web": token or ""}) as http:
        for path, status in paths.items():
            async with http.get(site.base + path) as r:
                body = await r.text()
                assert r.status == status, (path, r.status)
                assert "Traceback" not in body and "<b>" not in body, path
        # a session cookie from another server: refused, plainly
        async with http.get(f"{site.base}/u/{site.commune.id}", cookies={"rasoat_web": "x" * 43}) as r:
            assert r.status == 401 and "Phiên đã kết thúc" in await r.text()
        # many parallel requests from one session
        urls = [f"{site.base}/u/{site.commune.id}", f"{site.base}/u/{site.villages[0].id}/ho"] * 20

        async def one(url: str) -> int:
            async with http.get(url) as r:
                await r.read()
                return r.status

        assert set(await asyncio.gather(*map(one, urls))) == {200}
    await site.browser.get(f"{site.base}/u/{site.commune.id}/ho?q=" + "y" * 9000)  # beyond aiohttp's line limit
    assert "Traceback" not in await site.browser.source()


SHOTS = Path(__file__).parents[1] / "docs" / "img"


@pytest.mark.skipif(not os.environ.get("RASOAT_SCREENSHOTS"), reason="RASOAT_SCREENSHOTS=1 writes docs/img/*.png")
async def test_screenshots(site: Site) -> None:
    """Not a check: the officers' guide's pictures (docs/web-view.md)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await site.login("officer")
    async with site.service.db.read() as s:
        hid = await s.scalar(select(Household.id).join(Answer, Answer.household_id == Household.id).where(
            Household.village_id == site.villages[0].id).limit(1))
    for width, tag in ((390, "phone"), (1280, "desktop")):
        await site.browser.get(f"{site.base}/u/{site.commune.id}")
        await site.browser.screenshot(SHOTS / f"web-overview-{tag}.png", width)
        await site.browser.get(f"{site.base}/h/{hid}")
        await site.browser.screenshot(SHOTS / f"web-household-{tag}.png", width)


async def test_the_web_command_sends_a_link_that_logs_in(site: Site) -> None:
    reply = await site.service.handle(ChatRef("telegram", "502", "502"), Incoming(text="/web"))
    url = re.search(r"http://127\.0\.0\.1/web/login/\S+", reply.messages[0].text)
    assert url is not None, reply.messages[0].text
    await asyncio.to_thread(site.browser.driver.delete_all_cookies)
    await site.browser.get(url.group(0).replace("http://127.0.0.1/web", site.base))
    assert site.villages[0].name in await site.browser.text("#unit-name")  # a village head lands on the village
