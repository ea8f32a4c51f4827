"""Word documents for what officials sign (issue 22 item 6): one .docx template per document
in templates/, filled with docxtpl, in the layout of NĐ 30/2020/NĐ-CP; the placeholders each
template takes are declared beside it (templates/<id>.yaml) and checked at start-up.

    render_document(doc_id, context) -> bytes        the filled .docx
    write_document(doc_id, context, path) -> Path    the same, written owner-only
    written_parts(doc_id) -> list[WrittenPart]       what a person writes (key, title)
    blank_parts(doc_id, context) -> list[str]        keys this context leaves as marked blanks
    dated(day) -> str                                «ngày 05 tháng 02 năm 2026»
    unit_words(unit) -> UnitWords                    «xã Ba Sơn», «Ba Sơn»
"""

from core.documents.naming import UnitWords, unit_words
from core.documents.render import (
    DocumentContextError,
    WrittenPart,
    blank,
    blank_parts,
    dated,
    render_document,
    write_document,
    written_parts,
)
from core.documents.spec import DocSpec, load_templates, templates

__all__ = ["DocSpec", "DocumentContextError", "UnitWords", "WrittenPart", "blank", "blank_parts", "dated",
           "load_templates", "render_document", "templates", "unit_words", "write_document", "written_parts"]
