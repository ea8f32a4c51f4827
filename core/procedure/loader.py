"""The procedure file: steps, who acts, the meeting threshold, the posting days and who gives
the opinion of the level above. Read and checked at start-up; errors name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from core.datafile import DataFileError, Errors, check_keys, line_of, load_mapping, require
from core.provenance import Provenance, parse_provenance

FILES = Path(__file__).parent / "files"
DEFAULT = "qd24_2021"
ACTORS = {"village_head", "commune", "district", "province", "higher"}
LEVELS = {"district", "province", "commune"}
STEP_IDS = ("listed", "applied", "leave_request", "screened", "surveyed", "meeting", "posted", "opinion",
            "recognised")


@dataclass(frozen=True)
class StepDef:
    id: str
    title: str
    actors: tuple[str, ...]
    command: str
    line: int


@dataclass(frozen=True)
class HigherLevel:
    level: str
    title: str
    start: date | None
    end: date | None


@dataclass(frozen=True)
class Procedure:
    id: str
    version: str
    title: str
    min_agreement_percent: float
    vote_on: str  # changed | all
    posting_days: int
    posting_places: tuple[str, ...]
    higher: tuple[HigherLevel, ...]
    steps: tuple[StepDef, ...]
    provenance: Provenance | None
    path: str

    def step(self, step_id: str) -> StepDef:
        return next(s for s in self.steps if s.id == step_id)

    def higher_on(self, day: date) -> HigherLevel | None:
        """Who gives the opinion of the level above on this day (None: nobody is set)."""
        for h in self.higher:
            if (h.start is None or h.start <= day) and (h.end is None or day <= h.end):
                return h
        return None

    def agreed(self, agree: int, attendees: int) -> bool:
        return attendees > 0 and agree * 100 >= self.min_agreement_percent * attendees

    def posting_end(self, start: date) -> date:
        """The last day of posting: `posting_days` working days counted from the first (Mon-Fri)."""
        day, left = start, self.posting_days
        while True:
            if day.weekday() < 5:
                left -= 1
                if left <= 0:
                    return day
            day += timedelta(days=1)


def _date(raw: object, path: Path, line: int | None, key: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise DataFileError(path, line, f"'{key}' must be a date YYYY-MM-DD, got {raw!r}") from exc


def load_procedure(path: str | Path | None = None) -> Procedure:
    """The procedure file, every mistake in it reported at once (each step and level on its own)."""
    path = Path(path) if path else FILES / f"{DEFAULT}.yaml"
    errors = Errors()
    doc = load_mapping(path, {"id", "version", "title", "provenance", "meeting", "posting", "higher_opinion",
                              "steps"}, "a procedure file", errors)
    head: dict[str, str] = {}
    for key in ("id", "version", "title"):
        with errors.catch():
            head[key] = str(require(doc, key, path, str))
    pct, vote_on = 0.0, "changed"
    with errors.catch():
        meeting = require(doc, "meeting", path, dict)
        check_keys(meeting, {"min_agreement_percent", "vote_on"}, path, errors)
        vote_on = str(meeting.get("vote_on", "changed"))
        if vote_on not in ("changed", "all"):
            errors.add(DataFileError(path, line_of(meeting), "vote_on must be 'changed' or 'all'"))
        pct = float(require(meeting, "min_agreement_percent", path, (int, float)))
        if not 0 < pct <= 100:
            raise DataFileError(path, line_of(meeting), "min_agreement_percent must be above 0 and at most 100")
    days, places = 0, ()
    with errors.catch():
        posting = require(doc, "posting", path, dict)
        check_keys(posting, {"working_days", "places"}, path, errors)
        places = tuple(str(p) for p in posting.get("places") or ())
        days = require(posting, "working_days", path, int)
        if not 1 <= days <= 30:
            raise DataFileError(path, line_of(posting), "working_days must be 1 to 30")
    raw_higher: list = []
    with errors.catch():
        raw_higher = require(doc, "higher_opinion", path, list)
    higher = errors.each(raw_higher, lambda raw: _higher(raw, path, errors))
    raw_steps: list = []
    with errors.catch():
        raw_steps = require(doc, "steps", path, list)
    steps = errors.each(raw_steps, lambda raw: _step(raw, path, errors))
    for i, step in enumerate(steps):
        if any(s.id == step.id for s in steps[:i]):
            errors.add(DataFileError(path, step.line, f"step '{step.id}' is listed twice"))
    missing = [s for s in STEP_IDS if not any(d.id == s for d in steps)]
    if missing and len(steps) == len(raw_steps):  # a step that did not read is not also called missing
        errors.add(DataFileError(path, line_of(doc), f"steps missing: {', '.join(missing)}"))
    provenance = None
    with errors.catch():
        provenance = parse_provenance(doc.get("provenance"), path)
    errors.raise_any()
    return Procedure(head["id"], head["version"], head["title"], pct, vote_on, days, places, tuple(higher),
                     tuple(steps), provenance, str(path))


def _higher(raw: object, path: Path, errors: Errors) -> HigherLevel:
    if isinstance(raw, dict):
        check_keys(raw, {"from", "until", "level", "title"}, path, errors)
    level = str(require(raw, "level", path, str))
    title = str(require(raw, "title", path, str))
    assert isinstance(raw, dict)
    if level not in LEVELS:
        raise DataFileError(path, line_of(raw), f"level must be one of {', '.join(sorted(LEVELS))}")
    return HigherLevel(level, title, _date(raw.get("from"), path, line_of(raw), "from"),
                       _date(raw.get("until"), path, line_of(raw), "until"))


def _step(raw: object, path: Path, errors: Errors) -> StepDef:
    if isinstance(raw, dict):
        check_keys(raw, {"id", "title", "actors", "command"}, path, errors)
    sid = str(require(raw, "id", path, str))
    assert isinstance(raw, dict)
    if sid not in STEP_IDS:
        raise DataFileError(path, line_of(raw), f"unknown step '{sid}'; known: {', '.join(STEP_IDS)}")
    actors = require(raw, "actors", path, list)
    bad = [a for a in actors if a not in ACTORS]
    if bad or not actors:
        raise DataFileError(path, line_of(raw), f"step '{sid}': actors must be some of {', '.join(sorted(ACTORS))}")
    return StepDef(sid, str(require(raw, "title", path, str)), tuple(actors), str(require(raw, "command", path, str)),
                   line_of(raw) or 0)
