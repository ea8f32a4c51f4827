"""A bar chart of poor and near-poor rates by unit, to send beside the workbook.

The chart plots exactly the table's rate cells (TableData.ratio over the resident household
count), so the two never disagree: a unit without a resident count has "-" in the table and
"no data" in the chart, never a bar computed on another base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.i18n import t
from core.reports.filters import Filter
from core.reports.query import TableData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

POOR, NEAR = Filter(outcome=("poor",)), Filter(outcome=("near_poor",))
BASE = "households_total"


@dataclass(frozen=True)
class Bar:
    name: str
    poor: float | None  # % of resident households; None = no resident count, shown as "no data"
    near: float | None


def chart_values(data: TableData) -> list[Bar]:
    """What the chart plots, one entry per table row, by the table's own rate rule."""
    return [Bar(row.name, data.ratio(row, POOR, BASE), data.ratio(row, NEAR, BASE)) for row in data.rows]


def draw_chart(data: TableData) -> Figure:
    # matplotlib is imported here, not at start-up: it costs 0.6 s that a restarted bot
    # should spend answering users
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no display on servers
    from matplotlib.figure import Figure

    bars = chart_values(data)
    height = max(3.0, 0.32 * len(bars) + 2.0)
    fig = Figure(figsize=(9, height), dpi=110)  # not pyplot: no global figure state in a long-running bot
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ys = list(range(len(bars)))
    known = [b for b in bars if b.poor is not None]
    ax.barh([y - 0.2 for y, b in zip(ys, bars, strict=True) if b.poor is not None], [b.poor for b in known],
            height=0.4, label=t("chart_poor"), color="#c0392b")
    ax.barh([y + 0.2 for y, b in zip(ys, bars, strict=True) if b.near is not None],
            [b.near for b in bars if b.near is not None], height=0.4, label=t("chart_near_poor"), color="#e67e22")
    for y, b in zip(ys, bars, strict=True):
        if b.poor is None:
            ax.text(0, y, " " + t("chart_no_data"), va="center", ha="left", fontsize=8, style="italic",
                    color="#555555")
    ax.set_yticks(ys, [b.name for b in bars], fontsize=8)
    ax.set_ylim(len(bars) - 0.5, -0.5)  # first row on top, as in the table
    top = max([b.poor or 0 for b in bars] + [b.near or 0 for b in bars] + [1.0])
    ax.set_xlim(0, top * 1.1)
    ax.set_xlabel(t("chart_axis"))
    ax.set_title(t("chart_title", unit=data.unit.name, year=data.year), fontsize=11)
    # outside the axes, so it can never cover a bar
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.text(0.01, 0.01, t("chart_caption"), fontsize=7, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def render_chart(data: TableData, path: Path) -> Path:
    fig = draw_chart(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path
