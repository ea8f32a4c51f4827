"""The sheet writer process alone (core/reports/sheet.py): 100,000 rows of 9 cells, like
ds_bhyt for a province, fed from this small process, with the writer's time and peak memory
(run it on its own: a child's peak memory as Linux counts it includes its parent's pages at the
fork, so a writer started from a big process shows the big process's size).

    .venv/bin/python -m bench.sheet_writer
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from core.reports.sheet import Recorder

ROWS = 100_000
ROW = ["Nguyễn Văn An", "Nam", 1980, "Chủ hộ", "Thôn 01 - Xã Ba Sơn", "020112345678", "Kinh", "Có"]


def main() -> None:
    path = Path(tempfile.mkdtemp(prefix="rasoat-sheet-")) / "writer.xlsx"
    t0 = time.perf_counter()
    sheet = Recorder(path, "ds_bhyt")
    text, number = sheet.fmt(border=True), sheet.fmt(align="right", border=True)
    for n in range(1, ROWS + 1):
        sheet.next_row()
        sheet.write(1, n, number)
        sheet.cells(2, ROW, text, number, number)
    sheet.close()
    elapsed = time.perf_counter() - t0
    assert sheet.usage is not None
    print(f"{ROWS:,} rows of 9 cells through the writer process: {elapsed:.2f} s, "
          f"writer peak memory {sheet.usage.ru_maxrss / 1024:.0f} MiB, file {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
