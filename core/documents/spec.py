"""The Word templates and what each may say: one `templates/<id>.yaml` beside each
`templates/<id>.docx` names the placeholders the document is filled with (the context keys,
with lists and their fields), which a person writes, and which the template must show.

Checked at start-up: an official may change a template in Word, and a template that lost a
required placeholder (the household's name on a certificate) or names one nobody fills (a
typo) would print a wrong document much later. Such a template is refused with the file and
the placeholder named, every error of every template at once.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from core.datafile import DataFileError, check_keys, line_of, load_mapping, require
from core.provenance import Provenance, parse_provenance

TEMPLATES = Path(__file__).parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Placeholder:
    """One context key. `fields` makes it a list of mappings (a table's rows, a page per item);
    `written` (the part's title) marks a text a person writes, left as a marked blank when
    nobody has; `blank` replaces the standard marked blank (a number the clerk writes)."""

    name: str
    about: str
    required: bool = True
    written: str | None = None
    blank: str | None = None
    fields: dict[str, Placeholder] | None = None
    line: int = 0


@dataclass(frozen=True)
class DocSpec:
    id: str
    title: str
    template: Path
    placeholders: dict[str, Placeholder]
    provenance: Provenance | None
    path: str  # the YAML
    uses: frozenset[str] = field(default_factory=frozenset)  # dotted paths the .docx shows


def _line(path: Path, name: str, raw: Any) -> int | None:
    """The line of a placeholder: its mapping's, or the first line naming it (a description)."""
    if line_of(raw):
        return line_of(raw)
    key = re.compile(rf"^\s*[\"']?{re.escape(str(name))}[\"']?\s*:")
    return next((i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if key.match(text)),
                None)


def _placeholder(name: str, raw: Any, path: Path) -> Placeholder:
    if not NAME.match(str(name)):
        raise DataFileError(path, _line(path, name, raw),
                            f"placeholder name '{name}' must be lower_case_with_underscores")
    if isinstance(raw, str):
        return Placeholder(name, raw.strip())
    if not isinstance(raw, dict):
        raise DataFileError(path, _line(path, name, raw), f"placeholder '{name}': give its description, or a mapping")
    check_keys(raw, {"about", "required", "written", "blank", "fields"}, path)
    fields = raw.get("fields")
    if fields is not None and (not isinstance(fields, dict) or not fields):
        raise DataFileError(path, line_of(raw), f"placeholder '{name}': fields must map each field to its description")
    written = raw.get("written")
    if written is not None and (not isinstance(written, str) or not written.strip()):
        raise DataFileError(path, line_of(raw), f"placeholder '{name}': written must be the part's title")
    return Placeholder(name, str(require(raw, "about", path, str)).strip(), bool(raw.get("required", True)),
                       written.strip() if written else None, raw.get("blank"),
                       {k: _placeholder(k, v, path) for k, v in fields.items()} if fields else None, line_of(raw) or 0)


class _Uses:
    """The dotted paths a template reads: `commune`, `households`, `households.head`,
    `households.members.name`; a loop variable stands for an item of the list it runs over."""

    def __init__(self, builtins: set[str]) -> None:
        self.found: set[str] = set()
        self.builtins = builtins  # Jinja's own names (range, dict…), never placeholders

    def path(self, node: nodes.Node, scope: dict[str, str | None]) -> str | None:
        if isinstance(node, nodes.Name):
            return scope.get(node.name, node.name)
        if isinstance(node, nodes.Getattr):
            base = self.path(node.node, scope)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            base = self.path(node.node, scope)
            return f"{base}.{node.arg.value}" if base else None
        return None

    def visit(self, node: nodes.Node, scope: dict[str, str | None]) -> None:
        if isinstance(node, nodes.For):
            self.visit(node.iter, scope)
            inner = dict(scope)
            source = self.path(node.iter, scope)
            targets = [node.target] if isinstance(node.target, nodes.Name) else list(node.target.iter_child_nodes())
            for target in targets:
                if isinstance(target, nodes.Name):
                    inner[target.name] = source if len(targets) == 1 else None
            inner["loop"] = None
            for child in [*node.body, *node.else_, *([node.test] if node.test else [])]:
                self.visit(child, inner)
            return
        if isinstance(node, nodes.Assign):
            self.visit(node.node, scope)
            for target in [node.target, *node.target.find_all(nodes.Name)]:
                if isinstance(target, nodes.Name):
                    scope[target.name] = None
            return
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            found = self.path(node, scope)
            if found and found.split(".")[0] not in self.builtins:
                self.found.add(found)
                return
            if found:
                self.found.add(found)
                return
        for child in node.iter_child_nodes():
            self.visit(child, scope)


def template_source(path: Path) -> str:
    """The template's XML as docxtpl hands it to Jinja (tags split by Word put back together),
    body, headers and footers."""
    try:
        tpl = DocxTemplate(str(path))
        tpl.init_docx()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DataFileError(path, None, f"not a Word document (.docx): {exc}") from exc
    xml = tpl.patch_xml(tpl.get_xml())
    for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
        for _key, part in tpl.get_headers_footers(uri):
            xml += tpl.patch_xml(tpl.get_part_xml(part))
    return xml


def template_uses(path: Path) -> set[str]:
    """The dotted paths the .docx reads; a Jinja mistake is refused with the words around it."""
    xml = template_source(path)
    env = SandboxedEnvironment()
    try:
        tree = env.parse(xml)
    except TemplateSyntaxError as exc:
        lines = xml.splitlines()[max(0, (exc.lineno or 1) - 2):(exc.lineno or 1) + 1]
        near = " ".join(" ".join(re.sub(r"<[^>]+>", " ", line).split()) for line in lines)[:160]
        raise DataFileError(path, None, f"placeholder syntax error ({exc.message}) near «{near}»") from exc
    uses = _Uses(set(env.globals))
    uses.visit(tree, {})
    return uses.found


def _check(spec: DocSpec, uses: set[str]) -> list[DataFileError]:
    errors: list[DataFileError] = []
    where = Path(spec.path).name
    for used in sorted(uses):
        known, level = True, spec.placeholders
        for part in used.split("."):
            item = level.get(part) if level is not None else None
            if item is None:
                known = False
                break
            level = item.fields
        if not known:
            errors.append(DataFileError(spec.template, None, f"unknown placeholder {{{{ {used} }}}} "
                                        f"(not declared in {where})"))

    def required(level: dict[str, Placeholder], prefix: str) -> None:
        for name, item in level.items():
            dotted = f"{prefix}{name}"
            if item.required and dotted not in uses:
                errors.append(DataFileError(spec.template, None, f"missing placeholder {{{{ {dotted} }}}} "
                                            f"({item.about}; required by {where})"))
            elif item.fields and dotted in uses:
                required(item.fields, f"{dotted}.")

    required(spec.placeholders, "")
    return errors


def load_spec(path: Path) -> DocSpec:
    raw = load_mapping(path, {"template", "title", "provenance", "placeholders"}, "a document template file")
    template = path.parent / str(require(raw, "template", path, str))
    holders = require(raw, "placeholders", path, dict)
    spec = DocSpec(path.stem, str(require(raw, "title", path, str)), template,
                   {k: _placeholder(k, v, path) for k, v in holders.items()},
                   parse_provenance(raw.get("provenance"), path), str(path))
    if not template.exists():
        raise DataFileError(path, line_of(raw), f"template file {template.name} does not exist")
    uses = template_uses(template)
    errors = _check(spec, uses)
    if errors:
        raise _together(errors)
    return DocSpec(spec.id, spec.title, spec.template, spec.placeholders, spec.provenance, spec.path,
                   frozenset(uses))


def _together(errors: list[DataFileError]) -> DataFileError:
    if len(errors) == 1:
        return errors[0]
    return DataFileError(errors[0].path, errors[0].line, "; ".join(
        e.detail if e.path == errors[0].path else str(e) for e in errors))


def load_templates(folder: Path | None = None) -> dict[str, DocSpec]:
    """Every template of the folder, each checked against its YAML; all errors at once."""
    folder = folder or TEMPLATES
    specs: dict[str, DocSpec] = {}
    errors: list[DataFileError] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            specs[path.stem] = load_spec(path)
        except DataFileError as exc:
            errors.append(exc)
    if errors:
        raise _together(errors)
    return specs


@lru_cache(maxsize=1)
def templates() -> dict[str, DocSpec]:
    return load_templates()
