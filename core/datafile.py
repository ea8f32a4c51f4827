"""Loading of the project's versioned data files (forms, rule packs, locales).

Officials edit these files by hand, so every error must say which file and which line
is wrong; that is why mappings keep the line they were read from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class DataFileError(ValueError):
    """A data file is malformed; the message names the file and the line."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.detail = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


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


def load_mapping(path: str | Path, allowed: set[str], what: str) -> LineDict:
    """A data file whose top level is a mapping with known keys (forms, packs, reports)."""
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise DataFileError(path, None, f"{what} must be a mapping")
    check_keys(doc, allowed, path)
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


def check_keys(node: dict, allowed: set[str], path: str | Path) -> None:
    """Reject unknown keys so that a typo in a data file is not silently ignored."""
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise DataFileError(
            path, line_of(node), f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
