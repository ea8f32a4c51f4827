"""Counting the SQL statements and commits of an update, on both answer paths (the tests of
the answer path and bench/ share it)."""

from __future__ import annotations

from sqlalchemy import event

from bot.app import ChatApp


class Counter:
    """Statements and commits of both answer paths: SQLAlchemy's events for the ORM path, the
    driver path's own observer for the typed answer on PostgreSQL (bot/conversations/quick.py)."""

    def __init__(self, app: ChatApp) -> None:
        self.statements: list[str] = []
        self.commits = 0
        engine = app.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", lambda _c, _k, statement, *_r: self._seen(statement))
        event.listen(engine, "commit", lambda _c: self._seen("COMMIT"))
        if app.quick is not None:
            app.quick.observers.append(self._seen)

    def _seen(self, statement: str) -> None:
        word = statement.lstrip()[:8].upper()
        if word.startswith("COMMIT"):
            self.commits += 1
        elif not word.startswith(("BEGIN", "PRAGMA", "ROLLBACK")):
            self.statements.append(" ".join(statement.split())[:160])
