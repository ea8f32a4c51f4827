"""A bar chart of poor and near-poor rates by unit, to send beside the workbook."""

from __future__ import annotations

from pathlib import Path

from core.i18n import t
from core.reports.query import TableData
from core.reports.spec import Filter

POOR, NEAR = Filter(outcome=("poor",)), Filter(outcome=("near_poor",))


def rates(data: TableData) -> list[tuple[str, float, float]]:
    """(unit, poor %, near-poor %) against resident households when known, else surveyed ones."""
    out = []
    for row in data.rows:
        base = row.value("households_total") or row.value("surveyed")
        if not base:
            out.append((row.name, 0.0, 0.0))
            continue
        out.append((row.name, 100 * (row.value(POOR) or 0) / base, 100 * (row.value(NEAR) or 0) / base))
    return out


def render_chart(data: TableData, path: Path) -> Path:
    # matplotlib is imported here, not at start-up: it costs 0.6 s that a restarted bot
    # should spend answering users
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    values = rates(data)
    height = max(3.0, 0.32 * len(values) + 1.5)
    fig, ax = plt.subplots(figsize=(9, height), dpi=110)
    names = [v[0] for v in values]
    ys = range(len(values))
    ax.barh([y - 0.2 for y in ys], [v[1] for v in values], height=0.4, label=t("chart_poor"), color="#c0392b")
    ax.barh([y + 0.2 for y in ys], [v[2] for v in values], height=0.4, label=t("chart_near_poor"), color="#e67e22")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(t("chart_axis"))
    ax.set_title(t("chart_title", unit=data.unit.name, year=data.year), fontsize=11)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
