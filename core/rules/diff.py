"""What a workbook changes against the version in force, in the officer's words:
«B1 · Tivi: 10 → 5 điểm (Có; Nông thôn - Trung du và miền núi phía Bắc)»,
«Chuẩn thu nhập nông thôn: 2.200.000 → 2.300.000 đồng».

Both contents are flattened to labelled values (one per cell an official could change), so
any change, even one the workbook's layout adds later, is listed; nothing is applied here.
"""

from __future__ import annotations

from typing import Any

from core.i18n import t
from core.rules import layout as L
from core.rules.content import PARTS

Entry = tuple[str, str, str, str]  # label, value, unit, detail


def _money(value: Any) -> str:
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else str(value)


def _value(value: Any, kind: str = "") -> str:
    if value is None or value == "" or value == []:
        return t("rw_none")
    if kind == "money":
        return _money(value)
    if isinstance(value, bool):
        return L.yes_no_word(value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _general(content: dict[str, Any], out: dict[tuple, Entry]) -> None:
    source = {"pack": content["pack"], "b1": content["b1"] or {}}
    for spec in L.GENERAL:
        if spec.kind == "readonly" or (spec.key.startswith("b1.") and not content["b1"]):
            continue
        node: Any = source
        for part in (spec.key if spec.key.startswith("b1.") else f"pack.{spec.key}").split("."):
            node = node.get(part) if isinstance(node, dict) else None
        unit = {"money": t("rw_unit_money"), "points": t("rw_unit_points")}.get(spec.kind, "")
        out[("general", spec.key)] = (spec.label, _value(node, spec.kind), unit if node is not None else "", "")
    for kind, area in content["pack"]["area_by_commune_type"].items():
        out[("area", kind)] = (t("rw_general_area", kind=kind), L.area_word(area), "", "")


def _b1(content: dict[str, Any], out: dict[tuple, Entry], answers: dict[tuple[str, str], str]) -> None:
    b1 = content["b1"]
    if b1 is None:
        out[("b1",)] = (t("rw_diff_b1_table"), t("rw_none"), "", "")
        return
    out[("b1",)] = (t("rw_diff_b1_table"), t("rw_diff_b1_summary", items=len(b1["items"]), regions=len(b1["schemes"])),
                    "", "")
    labels = {s: spec["label"] for s, spec in b1["schemes"].items()}
    for s, spec in b1["schemes"].items():
        region = t("rw_diff_region", label=spec["label"])
        out[("b1", "scheme", s, "label")] = (region, spec["label"], "", "")
        out[("b1", "scheme", s, "area")] = (region + t("rw_diff_area"), L.area_word(spec["area"]), "", "")
        out[("b1", "scheme", s, "applies")] = (region + t("rw_diff_applies"), L.yes_no_word(spec["applies"]), "", "")
        out[("b1", "base", s)] = (t("rw_diff_base"), str(b1["base"][s]), t("rw_unit_points"), spec["label"])
    for item in b1["items"]:
        name = t("rw_diff_b1_item", label=item["label"])
        out[("b1", item["question"], "label")] = (t("rw_diff_b1_question", question=item["question"]),
                                                  item["label"], "", "")
        if "points" in item:
            for code, points in item["points"].items():
                answer = answers.get((item["question"], code), code)
                for s, value in points.items():
                    out[("b1", item["question"], code, s)] = (name, str(value), t("rw_unit_points"),
                                                              f"{answer}; {labels.get(s, s)}")
        else:
            for i, band in enumerate(item["bands"], start=1):
                out[("b1", item["question"], i, "max")] = (name, _value(band["max"]), "",
                                                           t("rw_diff_band_max", n=i))
                for s, value in band["points"].items():
                    out[("b1", item["question"], i, s)] = (name, str(value), t("rw_unit_points"),
                                                           t("rw_diff_band", n=i) + f"; {labels.get(s, s)}")


def _indicators(content: dict[str, Any], out: dict[tuple, Entry]) -> None:
    for ind in content["pack"]["indicators"]:
        name = t("rw_diff_indicator", number=ind["number"], name=ind["name"])
        for key in ("number", "name", "service", "confidence", "deprived_when"):
            out[("ind", ind["code"], key)] = (name, _value(ind[key]), "", t(f"rw_diff_ind_{key}"))
    for pname, value in content["pack"]["params"].items():
        out[("param", pname)] = (t("rw_diff_param", name=pname), _value(value), "", "")


def _phieu_a(content: dict[str, Any], out: dict[tuple, Entry]) -> None:
    rule = content["phieu_a"]
    for g in rule["stop_when"]:
        name = t("rw_diff_pa_stop", group=g["group"])
        out[("pa", "group", g["group"], "label")] = (name, g["label"], "", t("rw_col_text"))
        out[("pa", "group", g["group"], "at_least")] = (name, str(g["at_least"]), "", t("rw_col_at_least"))
    for c in rule["criteria"]:
        name = t("rw_diff_pa_crit", code=c["code"])
        for key in ("group", "label", "when"):
            out[("pa", "criterion", c["code"], key)] = (name, _value(c[key]), "", t(f"rw_diff_pa_{key}"))


def _sources(content: dict[str, Any], out: dict[tuple, Entry]) -> None:
    for part in PARTS:
        entry = content["sources"].get(part) or {}
        name = t("rw_diff_source", part=t(f"rw_part_{part}"))
        for key in ("status", "document", "date", "page", "source", "missing", "assumptions"):
            value = L.status_word(entry[key]) if key == "status" and entry.get(key) else entry.get(key)
            out[("src", part, key)] = (name, _value(value), "", t(f"rw_col_{key}"))


def flatten(content: dict[str, Any], answers: dict[tuple[str, str], str] | None = None) -> dict[tuple, Entry]:
    out: dict[tuple, Entry] = {}
    _general(content, out)
    _b1(content, out, answers or {})
    for part in (_indicators, _phieu_a, _sources):
        part(content, out)
    return out


def changes(before: dict[str, Any], after: dict[str, Any],
            answers: dict[tuple[str, str], str] | None = None) -> list[str]:
    """One line per changed value, in the workbook's order; [] when nothing changes.
    `answers`: (question, answer code) -> the answer's words."""
    old, new = flatten(before, answers), flatten(after, answers)
    lines = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and a[1] == b[1]:
            continue
        if a is None and key[0] == "b1" and len(key) > 1 and ("b1",) in old and old[("b1",)][1] == t("rw_none"):
            continue  # a table where there was none: said once, by the summary line
        if b is None and key[0] == "b1" and len(key) > 1 and new.get(("b1",), ("", ""))[1] == t("rw_none"):
            continue
        label, _, unit, detail = b or a  # type: ignore[misc]
        line = t("rw_diff_line", label=label, old=a[1] if a else t("rw_none"), new=b[1] if b else t("rw_removed"))
        if unit and b is not None:
            line += f" {unit}"
        if detail:
            line += f" ({detail})"
        lines.append(line)
    return lines
