"""The command table's seams: rows declared by each handler module, groups that share roles and
refusals, and the table of free answers the bot waits for outside the survey."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import bot
from bot.router import AWAITS, ROUTES, Router
from bot.routes import COMMUNE, TEXT, Await, Route, group
from core.access import Role
from core.chat.commands import slash
from core.chat.messages import Incoming
from core.i18n import t
from tests.households import make_village_head

ROOT = Path(__file__).parents[1]


def _awaited_keys() -> set[str]:
    """Every value a handler stores under the chat state's "await" key, read from the source."""
    found: set[str] = set()
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if info.name.endswith(".__main__"):
            continue  # `python -m` entry points run on import
        module = importlib.import_module(info.name)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "await":
                    if isinstance(value, ast.Constant):
                        found.add(value.value)
                    else:
                        assert isinstance(value, ast.Name), ast.dump(value)
                        found.add(getattr(module, value.id))
    return found


def test_every_question_asked_outside_the_survey_is_in_the_table_of_free_answers() -> None:
    keys = _awaited_keys()
    assert keys, "the scan found no waiting state at all"
    assert keys == {a.key for a in AWAITS}


def test_a_free_answer_is_typed_text_or_a_photo() -> None:
    async def nothing(ctx: object, arg: str | None) -> list:
        return []

    with pytest.raises(ValueError, match="typed text or a photo"):
        Router(ROUTES, (*AWAITS, Await("x", "_file", nothing)))  # type: ignore[arg-type]
    Router(ROUTES, (*AWAITS, Await("x", TEXT, nothing)))  # type: ignore[arg-type]


def test_a_group_gives_its_rows_one_set_of_roles_and_one_refusal() -> None:
    async def h(ctx: object, arg: str | None) -> list:
        return []

    rows = group((Route("a", h), Route("b", h, menu=True)), roles=COMMUNE, denied="proc_commune_only")  # type: ignore[arg-type]
    assert [(r.name, r.roles, r.denied, r.menu) for r in rows] == [
        ("a", COMMUNE, "proc_commune_only", False), ("b", COMMUNE, "proc_commune_only", True)]
    router = Router()
    for name in ("post", "complaint", "resolve", "recognise", "checks", "export_national", "import_list"):
        assert router.routes[name].roles == frozenset({Role.COMMUNE}), name
        assert router.routes[name].denied == "proc_commune_only", name


def test_the_procedure_is_one_module_per_step_and_each_declares_its_rows() -> None:
    folder = ROOT / "bot" / "handlers" / "procedure"
    steps = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    assert steps == ["applications", "checks", "decision", "evidence", "listing", "meeting", "status"]
    for step in steps:
        module = importlib.import_module(f"bot.handlers.procedure.{step}")
        assert module.ROUTES and all(r in ROUTES for r in module.ROUTES), step


async def test_registering_is_for_strangers_only_and_not_in_a_registered_users_help(service) -> None:  # type: ignore[no-untyped-def]
    """A registered user's /huongdan lists what they can use: /dangky only tells them they are
    registered already, so it is not listed (a fresh-clone try found it there)."""
    router = Router()
    assert router.allowed(None, "register") and not any(router.allowed(role, "register") for role in Role)
    head = await make_village_head(service)
    shown = "\n".join(m.text for m in (await service.handle(head, Incoming(text="/huongdan"))).messages)
    assert slash("help") in shown and slash("register") not in shown
    reply = await service.handle(head, Incoming(text=f"{slash('register')} ABC123"))
    assert [m.text for m in reply.messages] == [t("already_registered")]
