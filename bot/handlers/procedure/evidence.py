"""What a village head attaches to the open household in the field: photos and the location.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.context import Ctx
from bot.conversations.session import current_household
from bot.routes import LOCATION, PHOTO, Route
from core.access import may_change
from core.chat.commands import slash
from core.chat.messages import OutMessage
from core.i18n import t
from core.private import keep_private_copy
from core.procedure.models import HouseholdFile
from core.storage.models import Household
from core.storage.repo import audit


async def _evidence_target(ctx: Ctx) -> Household | OutMessage:
    """The open household evidence goes to, or why none does: nothing is open, or the user is
    an inspector (evidence is the commune's record: an inspector only reads it)."""
    household = await current_household(ctx)
    if household is None:
        return OutMessage(t("photo_no_household", open=slash("open")))
    if not may_change(ctx.me):
        return OutMessage(t("insp_read_only", recheck=slash("recheck")))
    return household


async def photo(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    """A photo as evidence for the open household (the minutes of a meeting are the router's
    AWAITS, bot/handlers/procedure/meeting.py)."""
    pic = ctx.incoming.photo
    assert pic is not None
    household = await _evidence_target(ctx)
    if isinstance(household, OutMessage):
        return [household]
    count = await ctx.s.scalar(select(func.count()).select_from(HouseholdFile).where(
        HouseholdFile.household_id == household.id, HouseholdFile.kind == "photo"))
    target = Path(ctx.settings.data_dir) / "household_files" / str(household.id) / f"{(count or 0) + 1}.jpg"
    keep_private_copy(Path(pic.path), target)
    ctx.s.add(HouseholdFile(household_id=household.id, kind="photo", path=str(target), user_id=ctx.me.id))
    await audit(ctx.s, household.id, "photo", ctx.me.id, {"file": target.name})
    return [OutMessage(t("photo_saved", id=household.id, n=(count or 0) + 1))]


async def location(ctx: Ctx, arg: str | None) -> list[OutMessage]:
    where = ctx.incoming.location
    assert where is not None
    household = await _evidence_target(ctx)
    if isinstance(household, OutMessage):
        return [household]
    lat, lon = where
    ctx.s.add(HouseholdFile(household_id=household.id, kind="location", latitude=lat, longitude=lon,
                            user_id=ctx.me.id))
    await audit(ctx.s, household.id, "location", ctx.me.id, {"set": True})  # never the coordinates in the log
    return [OutMessage(t("location_saved", id=household.id))]


ROUTES: tuple[Route, ...] = (
    Route(PHOTO, photo),
    Route(LOCATION, location),
)
