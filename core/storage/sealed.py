"""ID numbers (CCCD) and phone numbers sealed at rest, with a key kept outside the database.

A copy of `rasoat.db` or a PostgreSQL dump alone must not give away who the poorest households
are by citizen ID (Decree 13/2023/NĐ-CP treats ID numbers as data to protect). Answers of
questions of type `id_number` and `phone` are stored as Fernet tokens (AES-128-CBC + HMAC,
`cryptography`), in the answer row and in its audit row; the engine, classification and reports
only ever see plain values because `save_answer`/`load_answers` and the report query seal and
open them here. A duplicate-ID check cannot search ciphertext, so each sealed answer also gets
a keyed hash (HMAC-SHA256 of its digits, key derived from the data key) in `answers.lookup`.
Copies kept elsewhere are sealed too: last year's answers of a review (as their answers are), and whole
stored messages that quote what users typed or were shown (`seal_blob`: journal replies, inbox).

Keys: RASOAT_DATA_KEY (one or more Fernet keys, comma-separated, the first one seals), else the
file RASOAT_DATA_DIR/.data_key (one key a line, created 0600 atomically on first start). Older
keys still open values, so rotation is: put a new key first, run `rasoat rekey` (re-seals every
value and recomputes every lookup with the first key), then drop the old keys. Losing the key
loses the ID numbers: back it up apart from the database (docs/personal-data.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.private import FILE_MODE, private_dir, read_or_create_secret
from core.storage.models import Answer, AuditLog, Household, InboxUpdate, ProcessedUpdate

PREFIX = "sealed:v1:"
KEY_FILE = ".data_key"
INFO = "rasoat_sealer"  # where a Database puts its Sealer in each session's info
SEALED_TYPES = {"id_number": "id", "phone": "phone"}  # question type -> lookup domain


class SealError(RuntimeError):
    """A sealed value that no configured key opens, or an unusable key."""


@dataclass(frozen=True)
class Sealer:
    keys: tuple[bytes, ...]  # Fernet keys; the first seals
    fields: dict[str, str]  # question id -> lookup domain ("id" | "phone")

    def __post_init__(self) -> None:
        if not self.keys:
            raise SealError("no data key")
        try:
            fernets = [Fernet(k) for k in self.keys]
        except ValueError as exc:
            raise SealError(f"a data key is not a Fernet key (32 url-safe base64 bytes): {exc}") from None
        object.__setattr__(self, "_fernet", MultiFernet(fernets))
        object.__setattr__(self, "_lookup_key", hmac.new(self.keys[0], b"rasoat answer lookup v1",
                                                         hashlib.sha256).digest())

    def domain(self, key: str) -> str | None:
        """The lookup domain of an answer key ('chu_ho_cccd', 'tv.2.so_cccd'), None if not sealed."""
        return self.fields.get(key.rsplit(".", 1)[-1])

    def seal(self, value: Any) -> Any:
        if value is None or is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(json.dumps(value).encode()).decode()  # type: ignore[attr-defined]

    def open(self, value: Any) -> Any:
        if not is_sealed(value):
            return value  # written before sealing existed; `rasoat rekey` seals it
        try:
            return json.loads(self._fernet.decrypt(value[len(PREFIX):].encode()))  # type: ignore[attr-defined]
        except InvalidToken:
            raise SealError("a sealed answer cannot be opened with the configured data key(s)") from None

    def lookup(self, domain: str, value: Any) -> str | None:
        digits = re.sub(r"\D", "", str(value)) if value is not None else ""
        if not digits:
            return None
        return hmac.new(self._lookup_key, f"{domain}:{digits}".encode(), hashlib.sha256).hexdigest()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_fields(forms: Iterable[Any]) -> dict[str, str]:
    """Question ids whose answers are sealed, from the forms (types id_number and phone)."""
    fields: dict[str, str] = {}
    for form in forms:
        for q in [*form.household_questions(), *(q for g in form.groups() for q in g.questions)]:
            domain = SEALED_TYPES.get(getattr(q.type, "value", q.type))
            if domain:
                fields[q.id] = domain
    return fields


def load_keys(data_dir: Path, env_value: str | None) -> tuple[bytes, ...]:
    """The data keys: RASOAT_DATA_KEY if set, else the key file (created on first start)."""
    if env_value:
        return tuple(k.strip().encode() for k in env_value.split(",") if k.strip())
    text = read_or_create_secret(data_dir / KEY_FILE, lambda: Fernet.generate_key().decode(), min_length=44)
    return tuple(line.strip().encode() for line in text.splitlines() if line.strip())


def write_key_file(data_dir: Path, keys: Iterable[bytes]) -> None:
    """Replace the key file atomically (write, fsync, rename), owner-only."""
    private_dir(data_dir)
    path = data_dir / KEY_FILE
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(k.decode() + "\n" for k in keys))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def sealer_of(session: AsyncSession) -> Sealer | None:
    return session.info.get(INFO)


def seal_answer(session: AsyncSession, key: str, value: Any) -> tuple[Any, str | None]:
    """(stored value, lookup hash) for an answer about to be written."""
    return seal_value(sealer_of(session), key, value)


def seal_value(sealer: Sealer | None, key: str, value: Any) -> tuple[Any, str | None]:
    """seal_answer for a caller without a session (the driver's answer path)."""
    domain = sealer.domain(key) if sealer else None
    if sealer is None or domain is None:
        return value, None
    return sealer.seal(value), sealer.lookup(domain, value)


def open_answer(session: AsyncSession, value: Any) -> Any:
    sealer = sealer_of(session)
    return sealer.open(value) if sealer is not None else value


def seal_blob(info: dict[str, Any], value: Any) -> Any:
    """A whole stored message sealed (a journal reply, an inbox update): it quotes what the user
    typed and the answers shown back, ID numbers among them. `info` is a session's or a
    Database's session info; without a data key the value is stored as it is."""
    sealer = info.get(INFO)
    return sealer.seal(value) if sealer is not None and value is not None else value


def open_blob(info: dict[str, Any], value: Any) -> Any:
    sealer = info.get(INFO)
    return sealer.open(value) if sealer is not None else value


async def households_with_id_number(session: AsyncSession, value: str, year: int | None = None,
                                    besides: int | None = None) -> list[int]:
    """Households with an answer of type id_number equal to value (any member), for duplicate
    checks across households; found by keyed hash, never by decrypting every row. `year`: of
    that review year only; `besides`: not that household. One statement, which does not flush
    the session (a survey step asks it with its own household's row still pending)."""
    sealer = sealer_of(session)
    if sealer is None:
        raise SealError("this database has no data key configured")
    digest = sealer.lookup("id", value)
    if digest is None:
        return []
    query = holders_query(digest, year, besides)
    with session.no_autoflush:
        rows = await session.scalars(query)
    return list(rows.all())


def holders_query(digest: Any, year: Any = None, besides: Any = None) -> Select[tuple[int]]:
    """The households holding an answer with this lookup hash (values or bound parameters: the
    driver's answer path compiles it once, core/storage/answer_path.py)."""
    query = select(Answer.household_id).where(Answer.lookup == digest)
    if year is not None:
        query = query.join(Household, Household.id == Answer.household_id).where(Household.review_year == year)
    if besides is not None:
        query = query.where(Answer.household_id != besides)
    return query.distinct().order_by(Answer.household_id)


Resealer = Callable[[AsyncSession, Sealer], Awaitable[Any]]


async def reseal_all(session: AsyncSession, resealers: Sequence[Resealer] = ()) -> int:
    """Seal every sealed-type answer and audit value with the first key and recompute its lookup
    (rotation, and sealing rows written before sealing existed), and every stored reply and
    inbox update; `resealers` do the same for copies of answers kept by other parts (the
    procedure's baselines). Returns the answers touched."""
    sealer = sealer_of(session)
    if sealer is None:
        raise SealError("this database has no data key configured")
    suffixes = [or_(Answer.key == f, Answer.key.like(f"%.{f}")) for f in sealer.fields]
    touched = 0
    if not suffixes:
        return 0
    for row in (await session.scalars(select(Answer).where(or_(*suffixes)))).all():
        plain = sealer.open(row.value)
        row.value = sealer.seal(plain)  # opened first, so sealed anew with the first key
        row.lookup = sealer.lookup(sealer.domain(row.key) or "", plain)
        touched += 1
    audit_suffixes = [or_(AuditLog.key == f, AuditLog.key.like(f"%.{f}")) for f in sealer.fields]
    for entry in (await session.scalars(select(AuditLog).where(or_(*audit_suffixes)))).all():
        for attr in ("old_value", "new_value"):
            setattr(entry, attr, sealer.seal(sealer.open(getattr(entry, attr))))
    for stored in (await session.scalars(select(ProcessedUpdate).where(ProcessedUpdate.reply.is_not(None)))).all():
        stored.reply = sealer.seal(sealer.open(stored.reply))
    for inboxed in (await session.scalars(select(InboxUpdate))).all():
        inboxed.payload = sealer.seal(sealer.open(inboxed.payload))
    for more in resealers:
        await more(session, sealer)
    return touched


async def rotate(db: Any, data_dir: Path, env_value: str | None, fields: dict[str, str],
                 resealers: Sequence[Resealer] = ()) -> tuple[int, Path | None]:
    """Re-seal everything with a new first key. With RASOAT_DATA_KEY the new key is the one the
    operator put first there; with the key file a new key is made, the file holds new + old keys
    while re-sealing (a crash half-way leaves every value readable), then the new key only, and
    the old ones are kept in a retired-keys file (0600) for opening older backups.
    Returns (answers re-sealed, retired-keys file or None)."""
    if env_value:
        db.use_sealer(Sealer(load_keys(data_dir, env_value), fields))
        async with db.transaction() as s:
            return await reseal_all(s, resealers), None
    old = load_keys(data_dir, None)
    new = Fernet.generate_key()
    write_key_file(data_dir, (new, *old))
    db.use_sealer(Sealer((new, *old), fields))
    async with db.transaction() as s:
        count = await reseal_all(s, resealers)
    retired = data_dir / f"{KEY_FILE}.retired-{datetime.now(UTC):%Y%m%d%H%M%S}"
    fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(k.decode() + "\n" for k in old))
    write_key_file(data_dir, (new,))
    db.use_sealer(Sealer((new,), fields))
    return count, retired
