"""Builds the Word templates (core/documents/templates/*.docx) from their layout sources
(core/documents/layouts/*.yaml), so they can be made again the same way:

    python -m core.documents.make_templates            # every template
    python -m core.documents.make_templates bien_ban_hop_dan

The committed .docx files are what the bot renders; an official may adjust them in Word, and
running this again overwrites such changes (git shows them). Same layout, same bytes.

A layout source lists blocks: `header` (issuing body, national title, number, place and
date), `title` (centred bold lines), `p` (a body paragraph, `**…**` bold), `center`, `tag` (a
docxtpl paragraph tag such as `{%p for h in households %}`), `table` (heads, fixed rows and a
repeated row), `columns` («Nơi nhận» and signatures side by side), `page_break`, `space`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from core.datafile import DataFileError, check_keys, line_of, load_yaml, require
from core.documents import layout
from core.documents.layout import Page, Style

HERE = Path(__file__).parent
LAYOUTS = HERE / "layouts"
TEMPLATES = HERE / "templates"
COMMON = LAYOUTS / "_common.yaml"
BLOCKS = {"header", "title", "p", "center", "tag", "table", "columns", "page_break", "space"}
P_KEYS = {"p", "center", "bold", "italic", "align", "indent", "size", "before", "after"}


def _lines(raw: Any, path: Path) -> list[dict[str, Any]]:
    """Lines given as text or as {text, bold, italic, size, rule, align, blank}."""
    if not isinstance(raw, list):
        raise DataFileError(path, line_of(raw), "expected a list of lines")
    return [{"text": item} if isinstance(item, str) else dict(item) for item in raw]


def _paragraph(doc: Any, page: Page, block: dict[str, Any], path: Path) -> None:
    check_keys(block, P_KEYS, path)
    centred = "center" in block
    text = str(block["center"] if centred else block["p"])
    layout.paragraph(doc, text, Style(size=block.get("size"), bold=block.get("bold", False),
                                      italic=block.get("italic", False),
                                      align=block.get("align", "center" if centred else "justify"),
                                      indent=block.get("indent", not centred),
                                      before=block.get("before", 0), after=block.get("after", 6)))


def _block(doc: Any, page: Page, block: Any, common: dict[str, Any], path: Path) -> None:
    if not isinstance(block, dict) or len(set(block) & BLOCKS) != 1:
        raise DataFileError(path, line_of(block), f"a block is one of: {', '.join(sorted(BLOCKS))}")
    kind = next(iter(set(block) & BLOCKS))
    value = block[kind]
    if kind == "header":
        check_keys(value, {"left", "right", "number", "dated", "split"}, path)
        right = common["nation"] if value.get("right", "nation") == "nation" else value["right"]
        layout.header(doc, page, _lines(value["left"], path), _lines(right, path), value.get("number"),
                      value.get("dated"), float(value.get("split", 0.4)))
    elif kind == "title":
        for i, line in enumerate(_lines(value, path)):
            layout.paragraph(doc, line["text"], Style(size=line.get("size", page.size), bold=line.get("bold", True),
                                                      italic=line.get("italic", False), align="center",
                                                      before=6 if i == 0 else 0, after=0))
            if line.get("rule"):
                layout.rule(doc, page.text_width, float(line["rule"]))
        layout.paragraph(doc, "", Style(after=6))
    elif kind in ("p", "center"):
        _paragraph(doc, page, block, path)
    elif kind == "tag":
        layout.tag(doc, str(value))
    elif kind == "table":
        check_keys(value, {"columns", "rows", "loop", "size"}, path)
        layout.grid(doc, page, _lines(value["columns"], path), value.get("rows") or [], value.get("loop"),
                    value.get("size"))
    elif kind == "columns":
        check_keys(value, {"cols", "widths"}, path)
        layout.columns_block(doc, page, [_lines(col, path) for col in value["cols"]], value.get("widths"))
    elif kind == "page_break":
        layout.page_break(doc)
    elif kind == "space":
        for _ in range(int(value)):
            layout.paragraph(doc, "", Style(after=0))


def build(source: Path, out_dir: Path = TEMPLATES) -> Path:
    """One template from its layout source; returns the .docx written."""
    doc_raw = load_yaml(source)
    check_keys(doc_raw, {"template", "title", "page", "body"}, source)
    common = load_yaml(COMMON)
    page_raw = doc_raw.get("page") or {}
    check_keys(page_raw, {"top", "bottom", "left", "right", "size", "page_numbers"}, source)
    page = Page(**{k: page_raw[k] for k in page_raw})
    doc = layout.new_document(page, str(require(doc_raw, "title", source, str)))
    for block in require(doc_raw, "body", source, list):
        _block(doc, page, block, common, source)
    target = out_dir / str(require(doc_raw, "template", source, str))
    layout.save(doc, target)
    return target


def build_all(out_dir: Path = TEMPLATES, only: list[str] | None = None) -> list[Path]:
    sources = sorted(p for p in LAYOUTS.glob("*.yaml") if not p.name.startswith("_"))
    return [build(p, out_dir) for p in sources if not only or p.stem in only]


def main(argv: list[str]) -> int:
    try:
        for path in build_all(only=argv or None):
            print(path)
    except DataFileError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
