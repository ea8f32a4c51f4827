"""Loading of the project's versioned data files (forms, rule packs, locales).

Officials edit these files by hand, so every error must say which file and which line
is wrong; that is why mappings keep the line they were read from. A loader reports every
mistake of a file at once (`Errors`), as XLSForm checkers do, so an official fixes a form in
one round instead of one restart per typo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
R = TypeVar("R")


class DataFileError(ValueError):
    """A data file is malformed; the message names the file and the line. `errors` is every
    single mistake it stands for (itself, or all of a file's when several were found)."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.detail = message
        self.errors: tuple[DataFileError, ...] = (self,)
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")

    @staticmethod
    def of(errors: Iterable[DataFileError]) -> DataFileError:
        """One error for several: the single one itself, else one listing each by file and line.
        `path` and `line` are the first's (by file, then line), so a caller that points at one
        place points at the first to fix."""
        found: dict[str, DataFileError] = {}
        for error in errors:
            for one in error.errors:
                found.setdefault(str(one), one)
        ordered = sorted(found.values(), key=lambda e: (e.path, e.line or 0))
        if len(ordered) == 1:
            return ordered[0]
        return DataFileErrors(tuple(ordered))


class DataFileErrors(DataFileError):
    """Several mistakes, one per line of the message, each with its file and line."""

    def __init__(self, errors: tuple[DataFileError, ...]) -> None:
        super().__init__(errors[0].path, errors[0].line, "\n".join(str(e) for e in errors))
        self.errors = errors
        self.args = (f"{len(errors)} errors:\n" + "\n".join(f"  {e}" for e in errors),)


class Errors:
    """The mistakes found so far while loading; `raise_any` reports them all in one error.

    A loader wraps each independent check (a question, a column, a plan phase) in `catch()` or
    parses a list with `each()`, so one bad row does not hide the next; a check that cannot go on
    without what failed before it (no mapping at all, say) still raises at once."""

    def __init__(self) -> None:
        self.found: list[DataFileError] = []

    def __bool__(self) -> bool:
        return bool(self.found)

    def add(self, error: DataFileError) -> None:
        self.found.extend(error.errors)

    @contextmanager
    def catch(self) -> Iterator[None]:
        """Record a DataFileError raised in the block instead of letting it stop the load."""
        try:
            yield
        except DataFileError as exc:
            self.add(exc)

    def each(self, items: Iterable[T], parse: Callable[[T], R]) -> list[R]:
        """`parse` of every item that parses; the errors of the others are recorded."""
        out: list[R] = []
        for item in items:
            with self.catch():
                out.append(parse(item))
        return out

    def raise_any(self) -> None:
        if self.found:
            raise DataFileError.of(self.found)


class LineDict(dict):
    """A dict that remembers the 1-based line of the YAML mapping it came from."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(path: Path) -> str:
    """A data file's text; a file that cannot be read is a DataFileError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, None, f"cannot read file: {exc}") from exc


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file whose mappings are LineDicts; syntax errors name file and line."""
    path = Path(path)
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DataFileError(path, line, f"YAML error: {exc.problem or exc}") from exc


def load_mapping(path: str | Path, allowed: set[str], what: str, errors: Errors | None = None) -> LineDict:
    """A data file whose top level is a mapping with known keys (forms, packs, reports); with
    `errors`, unknown keys are recorded there and the load goes on."""
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise DataFileError(path, None, f"{what} must be a mapping")
    check_keys(doc, allowed, path, errors)
    return doc


def line_of(node: Any, default: int | None = None) -> int | None:
    """The line a mapping was read from, for error messages."""
    return getattr(node, "line", default)


def require(node: Any, key: str, path: str | Path, kind: type | tuple[type, ...] = object) -> Any:
    """Fetch a required key and check its type, raising a DataFileError that names the row."""
    if not isinstance(node, dict):
        raise DataFileError(path, line_of(node), f"expected a mapping, got {type(node).__name__}")
    if key not in node:
        raise DataFileError(path, line_of(node), f"missing required key '{key}'")
    value = node[key]
    if not isinstance(value, kind):
        raise DataFileError(path, line_of(node), f"'{key}' must be {_kind_name(kind)}, got {value!r}")
    return value


def check_keys(node: dict, allowed: set[str], path: str | Path, errors: Errors | None = None) -> None:
    """Reject unknown keys so that a typo in a data file is not silently ignored; with `errors`,
    record it there (the known keys can still be read) instead of raising."""
    unknown = sorted(set(node) - allowed)
    if unknown:
        error = DataFileError(
            path, line_of(node), f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
        if errors is None:
            raise error
        errors.add(error)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
