"""The overview's chart, drawn on the server as SVG from the very rows the table shows: for each
child unit, the poor and near-poor rates this year beside the start of the year. No script, no
library and no CDN: the page stays printable and works without internet."""

from __future__ import annotations

from dataclasses import dataclass

from bot.webview.figures import ChildRow

ROW_H = 22
LABEL_W = 170
BAR_W = 300
MAX_ROWS = 60


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # poor | poor0 | near | near0
    value: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    labels: list[tuple[float, str]]
    bars: list[Bar]
    scale: float  # the percent at the right edge


def chart(rows: list[ChildRow]) -> Chart | None:
    shown = [r for r in rows if r.poor_rate is not None or r.near_rate is not None][:MAX_ROWS]
    if not shown:
        return None
    values = [v for r in shown for v in (r.poor_rate, r.near_rate, r.poor_rate_before, r.near_rate_before)
              if v is not None]
    scale = max(5.0, float(int(max(values) / 5) + 1) * 5)
    labels, bars = [], []
    for i, r in enumerate(shown):
        top = i * ROW_H * 2 + 6
        labels.append((top + ROW_H, r.progress.name[:28]))
        for k, (css, value) in enumerate((("poor", r.poor_rate), ("poor0", r.poor_rate_before),
                                          ("near", r.near_rate), ("near0", r.near_rate_before))):
            if value is None:
                continue
            bars.append(Bar(LABEL_W, top + k * (ROW_H // 2), BAR_W * value / scale, ROW_H // 2 - 2, css, value))
    return Chart(LABEL_W + BAR_W + 60, len(shown) * ROW_H * 2 + 12, labels, bars, scale)
