"""The typed answer to a survey question on the database driver (core/storage/answer_path.py,
core/storage/sqlite_answer_path.py): the update a village head sends most, by far, at a third
of the ORM path's CPU.

It is a shortcut, not a second survey session. It takes an update only when everything the
ORM path would do is: lock the chat and its household, check the cached sender, step the pure
engine, write one answer (or none) with the household's position (and its head's name when that
is the answer), store the reply. It takes typed answers and the two commands that answer the
question asked (/boqua, /giunguyen). Whatever else could happen (any other command, a question
asked outside the survey, a re-check, a household submitted or not covered, answers not cached
on this worker, a submission, several answers at once, a move without an answer, a webhook
update's inbox row gone or late, no data key to seal with) makes it roll back and return None,
and the update runs through the router as always (bot/app.py). The engine, the wording and the
access rules are the same functions on both paths; tests run the survey on both and compare
(tests/test_driver_path.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.context import AppData
from bot.conversations.session import editable, engine_of, position
from bot.routes import TEXT, Route, Where
from core.access import Role, may_change, reaches
from core.chat.commands import parse_command
from core.chat.messages import ChatRef, Command, Incoming, OutMessage
from core.conversation.engine import Step, SurveyEngine
from core.duplicate_ids import find, warning
from core.inbox import Claim, claim_values
from core.storage.answer_path import AnswerPath, Locked
from core.storage.cache import known_ancestors
from core.storage.models import Household, User, fit_text, utcnow
from core.storage.sealed import INFO, Sealer, seal_blob, seal_value


class _Elsewhere(Exception):
    """Not this path's update: roll back, the ORM path takes it."""


# the engine's own commands that answer the question asked (survey.command takes them on the
# ORM path): skipped or kept, they write one answer or none, like a typed one
COMMANDS = ("skip", "keep")
HEAD_NAME = Household.__table__.c.head_name


def eligible(routes: Mapping[str, Route], chat: ChatRef, incoming: Incoming, user: User | None) -> Command | None:
    """What can be told before any statement: typed text that is an answer (no command, or
    /boqua or /giunguyen), in a private chat, from a cached user whose role the router's row for
    it (`routes`, by name) lets use it. The command the engine is given; None for the ORM path."""
    if user is None or chat.is_group or incoming.text is None:
        return None
    if incoming.payload is not None or incoming.document is not None or incoming.photo is not None \
            or incoming.location is not None or not may_change(user):
        return None
    cmd = parse_command(incoming.text)
    if cmd is None:
        route, cmd = routes[TEXT], Command(TEXT, incoming.text)
    elif cmd.name in COMMANDS and not cmd.arg:
        route = routes[cmd.name]
    else:
        return None
    return cmd if Where.PRIVATE in route.where and Role(user.role) in route.roles else None


async def answer(data: AppData, path: AnswerPath, chat: ChatRef, incoming: Incoming, user: User,
                 cmd: Command, claim: Claim | None = None) -> list[OutMessage] | None:
    """The reply, committed with the answer; None when the ORM path must take the update. A
    webhook update's inbox row (`claim`) is taken in the same transaction, as inbox.take does:
    gone or late, the ORM path takes the update and says so."""
    sealer: Sealer | None = data.db.session_info.get(INFO)
    if sealer is None:  # the ORM path compares ID numbers without their keyed hash
        return None
    try:
        done: _Done = await path.run(lambda tx: _transact(data, path, tx, sealer, chat, incoming, user, cmd, claim))
    except _Elsewhere:
        return None
    # what the store holds now, for this worker's next step on the household (as _persist does)
    data.answers.put(done.household, done.revision, done.answers, done.memo)
    return done.messages


@dataclass(frozen=True)
class _Done:
    messages: list[OutMessage]
    household: int
    revision: int
    answers: dict[str, Any]
    memo: Any


async def _transact(data: AppData, path: AnswerPath, tx: Any, sealer: Sealer, chat: ChatRef, incoming: Incoming,
                    user: User, cmd: Command, claim: Claim | None) -> _Done:
    """The answer inside its transaction (on SQLite, on SQLite's thread: nothing here waits
    but the path's own statements)."""
    row = await path.lock(tx, chat.channel, chat.chat_id, user.id, None if claim is None else claim_values(claim))
    if row is None or not _plain(data, row, user):
        raise _Elsewhere
    engine, step, memo, answers = _step(data, row, cmd)
    typed = [c.key for c in step.changes if c.new is not None]
    if typed and sealer.domain(typed[0]) == "id":  # compared as survey._check_ids does
        found = await find(sealer, engine, step.answers, typed, lambda value: path.holders(
            tx, sealer.lookup("id", value), row.review_year, row.id))
        if found:
            step.messages.insert(0, warning(found))
    values: dict[str, Any] = {"channel": chat.channel, "chat": chat.chat_id, "update": incoming.update_id,
                              "reply": seal_blob(data.db.session_info, [m.to_json() for m in step.messages]),
                              "at": utcnow()}
    if not step.changes:
        await path.reply_only(tx, values)
        revision = row.revision
    else:
        (change,) = step.changes
        stored, lookup = seal_value(sealer, change.key, change.new)
        revision = (row.revision or 0) + 1
        named = change.key == engine.survey.head_name  # written on the household too, as _persist does
        values.update(hid=row.id, key=change.key, old=seal_value(sealer, change.key, change.old)[0],
                      new=stored, lookup=lookup, uid=user.id, state=step.state.to_json(), rev=revision,
                      named=named, head=fit_text(HEAD_NAME, step.answers.get(change.key)) if named else None)
        await path.write(tx, values)
    return _Done(step.messages, row.id, revision,  # type: ignore[arg-type]
                 {**answers, **{c.key: c.new for c in step.changes}}, memo)


def _plain(data: AppData, row: Locked, user: User) -> bool:
    """The chat waits for nothing but the survey, the cached sender is as stored, the household
    is a draft the sender's area covers (core/access.py's rule, on the chain this worker knows;
    a village head's own village needs none)."""
    if row.chat_state is not None or not editable(row):
        return False
    if row.disabled_at is not None or row.role != user.role or row.unit_id != user.unit_id:
        return False  # a stale cache entry: the ORM path finds out and reads the user again
    own = [row.village_id] if user.unit_id == row.village_id else None
    return reaches(user, own or known_ancestors(data.db.engine.sync_engine, row.village_id))


def _step(data: AppData, row: Locked, cmd: Command) -> tuple[SurveyEngine, Step, Any, dict[str, Any]]:
    """The engine's step, or _Elsewhere when its outcome needs the ORM path."""
    cached = data.answers.get(row.id, row.revision)  # type: ignore[arg-type]
    if cached is None:
        raise _Elsewhere
    answers, memo = cached
    engine = engine_of(data.forms, row)
    if memo is not None and memo[0] == (engine.survey.id, engine.context):
        engine.remember(memo[1], memo[2])
    if cmd.name == TEXT:
        step = engine.handle_text(position(row), dict(answers), cmd.arg or "")
    else:
        step = engine.handle_command(position(row), dict(answers), cmd)
    if step.submit or len(step.changes) > 1:
        raise _Elsewhere
    if not step.changes and step.state.to_json() != row.state:
        raise _Elsewhere
    memo_out = ((engine.survey.id, engine.context), *engine.last) if engine.last else None
    return engine, step, memo_out, answers
