"""Fills a checked template (core/documents/spec.py) with a context and returns the .docx.

The context is checked against the template's YAML before anything is rendered: a key the
YAML does not declare is a programming mistake and is refused, as is a missing figure. A value
left None, and a written part nobody has written, is printed as a visible marked blank
(«[…cần bổ sung…]», or the placeholder's own `blank`), so a person sees what to complete before
signing. Values are escaped (a name with «&» or «<» cannot break the document) and the
template runs in Jinja's sandbox (an edited template cannot reach Python)."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment

from core.documents.spec import DocSpec, Placeholder, templates
from core.i18n import fmt_number, t
from core.private import private_dir, private_file

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
PARAGRAPH = "\a"  # docxtpl starts a new paragraph, with the same style, where a value holds it


class DocumentContextError(ValueError):
    """The context does not fit the template's YAML (a key unknown or missing)."""


@dataclass(frozen=True)
class WrittenPart:
    key: str
    title: str  # what the chat asks for, e.g. «Khó khăn, vướng mắc»
    about: str


def blank() -> str:
    """The marked blank a person must complete."""
    return t("doc_blank")


def dated(day: date) -> str:
    """«ngày 05 tháng 02 năm 2026»: a 0 before days under 10 and months 1 and 2 (NĐ 30/2020)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return t("doc_dated", day=f"{day.day:02d}", month=month, year=day.year)


def spec_of(doc_id: str) -> DocSpec:
    specs = templates()
    if doc_id not in specs:
        raise DocumentContextError(f"no document template '{doc_id}' (known: {', '.join(sorted(specs))})")
    return specs[doc_id]


def written_parts(doc_id: str) -> list[WrittenPart]:
    """The parts of the document a person writes (typed in chat, or left as marked blanks)."""
    return [WrittenPart(k, p.written, p.about) for k, p in spec_of(doc_id).placeholders.items() if p.written]


def blank_parts(doc_id: str, context: Mapping[str, Any]) -> list[str]:
    """The top-level keys this context leaves as marked blanks."""
    return [k for k, p in spec_of(doc_id).placeholders.items() if not p.fields and _blank(p, context.get(k))]


def _blank(holder: Placeholder, value: Any) -> bool:
    return value is None or bool(holder.written and isinstance(value, str) and not value.strip())


def _value(holder: Placeholder, value: Any) -> Any:
    if _blank(holder, value):
        return holder.blank if holder.blank is not None else blank()
    if isinstance(value, bool):
        return t("b1_yes") if value else t("b1_no")
    if isinstance(value, float):
        return fmt_number(round(value, 2))
    if isinstance(value, str):  # each line typed becomes a paragraph of the document
        return PARAGRAPH.join(line.strip() for line in CONTROL.sub(" ", value).splitlines() if line.strip())
    return value


def _prepare(level: dict[str, Placeholder], context: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(context) - set(level))
    if unknown:
        raise DocumentContextError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(level)})")
    missing = sorted(k for k, p in level.items() if k not in context and p.required and not p.written)
    if missing:
        raise DocumentContextError(f"{where}: missing keys {', '.join(missing)}")
    out: dict[str, Any] = {}
    for key, holder in level.items():
        value = context.get(key)
        if holder.fields is not None:
            items = value or []
            if not isinstance(items, Sequence) or isinstance(items, str | bytes):
                raise DocumentContextError(f"{where}: '{key}' must be a list of mappings")
            out[key] = [_prepare(holder.fields, _mapping(item, f"{where}.{key}"), f"{where}.{key}[{i}]")
                        for i, item in enumerate(items)]
        else:
            out[key] = _value(holder, value)
    return out


def _mapping(item: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise DocumentContextError(f"{where}: each item must be a mapping")
    return item


def render_document(doc_id: str, context: Mapping[str, Any]) -> bytes:
    """The document `doc_id` (a template of core/documents/templates) filled with `context`,
    as the bytes of a .docx. Raises DocumentContextError for a context the YAML refuses."""
    spec = spec_of(doc_id)
    prepared = _prepare(spec.placeholders, context, doc_id)
    tpl = DocxTemplate(str(spec.template))
    tpl.render(prepared, jinja_env=SandboxedEnvironment(), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def write_document(doc_id: str, context: Mapping[str, Any], path: Path) -> Path:
    """render_document written to `path`, readable by this server's user only (it holds names)."""
    data = render_document(doc_id, context)
    private_dir(path.parent)
    path.write_bytes(data)
    return private_file(path)
