"""A list sheet streamed to its file row by row, written here or by a writer process.

XlsxWriter's constant_memory mode writes a row out when the next one starts, so a list of
100,000 rows never sits in memory. XlsxWriter and not openpyxl's write-only mode, by
measurement on this machine: 100,000 rows of 9 styled cells take 7.4 s with XlsxWriter and
14.5 s with openpyxl write-only (lxml installed, cells built as cheaply as openpyxl allows).
Text always goes through write_string, so it is never a formula (formula injection); the
workbook also turns off XlsxWriter's own string-to-formula and string-to-number guessing.

For a big list (a province's, about 100,000 member rows for ds_bhyt) the XML is written by a
second process (`python -m core.reports.sheet FILE TITLE`): the report process reads the
database and builds the cells while the writer turns the previous rows into XML, so the two
halves of the work (about 3 s and 5 s for ds_bhyt, README "Benchmarks") run on two cores at
once. The report process records every call of `Sheet` (`Recorder`, the same methods) and
sends them to the writer's stdin in pickled batches; the pipe's buffer is the back-pressure,
so memory stays flat. The writer imports only XlsxWriter, so it starts in 73 ms here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import xlsxwriter

FONT = "Times New Roman"
BATCH = 2000  # recorded calls per pickled batch


class Sheet:
    def __init__(self, path: Path | str, title: str) -> None:
        self.book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                                    "strings_to_numbers": False, "strings_to_urls": False})
        self.ws = self.book.add_worksheet(title[:31])
        self.row = -1  # 0-based, as XlsxWriter counts
        self._formats: dict[tuple[Any, ...], Any] = {}

    def fmt(self, size: int = 12, bold: bool = False, italic: bool = False, align: str = "left",
            border: bool = False, number: str | None = None) -> Any:
        key = (size, bold, italic, align, border, number)
        got = self._formats.get(key)
        if got is None:
            spec: dict[str, Any] = {"font_name": FONT, "font_size": size, "bold": bold, "italic": italic,
                                    "align": align, "valign": "vcenter", "text_wrap": align != "right"}
            if border:
                spec["border"] = 1
            if number:
                spec["num_format"] = number
            got = self._formats[key] = self.book.add_format(spec)
        return got

    def write(self, col: int, value: Any, fmt: Any) -> None:
        """One cell of the current row (col 1-based); text as text, numbers as numbers. Control
        characters XML cannot hold are escaped by XlsxWriter (_xHHHH_), never written raw."""
        if isinstance(value, str) or value is None:
            self.ws.write_string(self.row, col - 1, value or "", fmt)
        elif isinstance(value, bool):
            self.ws.write_boolean(self.row, col - 1, value, fmt)
        elif isinstance(value, int | float):
            self.ws.write_number(self.row, col - 1, value, fmt)
        else:
            self.ws.write_string(self.row, col - 1, str(value), fmt)

    def cells(self, first: int, values: Sequence[Any], text: Any, figure: Any, money: Any) -> None:
        """A row's data cells from column `first` on, each in the format of its kind: the
        list's inner loop, so the methods are looked up once."""
        row, put_text, put_number = self.row, self.ws.write_string, self.ws.write_number
        for col, value in enumerate(values, first - 1):
            if value is None or isinstance(value, str):
                put_text(row, col, value or "", text)
            elif isinstance(value, bool):
                self.ws.write_boolean(row, col, value, figure)
            elif isinstance(value, int):
                put_number(row, col, value, figure)
            elif isinstance(value, float):
                put_number(row, col, value, money)
            else:
                put_text(row, col, str(value), text)

    def merged(self, first: int, last: int, value: str, fmt: Any) -> None:
        if last > first:
            self.ws.merge_range(self.row, first - 1, self.row, last - 1, "", fmt)
        self.write(first, value, fmt)

    def next_row(self, height: float | None = None) -> None:
        self.row += 1
        if height:
            self.ws.set_row(self.row, height)

    def close(self) -> None:
        self.book.close()


class _Calls:
    """`recorder.ws.set_column(...)` and the like, recorded."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self._recorder._add(("ws", name, args, kwargs))


class Recorder:
    """Sheet's methods, sent to a writer process (formats travel as their keys)."""

    def __init__(self, path: Path, title: str) -> None:
        self.path = path
        self.row = -1
        self.ws = _Calls(self)
        self._ops: list[tuple[Any, ...]] = []
        self.usage: os.struct_rusage | None = None  # after close (bench.sheet_writer prints its peak memory)
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(path), title],
                                      stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._proc.stdin is not None
        self._pipe: BinaryIO = self._proc.stdin

    def fmt(self, size: int = 12, bold: bool = False, italic: bool = False, align: str = "left",
            border: bool = False, number: str | None = None) -> tuple[Any, ...]:
        return ("fmt", size, bold, italic, align, border, number)

    def write(self, col: int, value: Any, fmt: Any) -> None:
        self._add(("write", col, value, fmt))

    def cells(self, first: int, values: Sequence[Any], text: Any, figure: Any, money: Any) -> None:
        self._add(("cells", first, values, text, figure, money))

    def merged(self, first: int, last: int, value: str, fmt: Any) -> None:
        self._add(("merged", first, last, value, fmt))

    def next_row(self, height: float | None = None) -> None:
        self.row += 1
        self._add(("next_row", height))

    def _add(self, op: tuple[Any, ...]) -> None:
        self._ops.append(op)
        if len(self._ops) >= BATCH:
            self._send()

    def _send(self) -> None:
        try:
            pickle.dump(self._ops, self._pipe, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            self._fail()
        self._ops = []

    def close(self) -> None:
        """Everything sent; returns once the writer has closed the workbook."""
        self._ops.append(("end",))
        self._send()
        with contextlib.suppress(BrokenPipeError):
            self._pipe.close()
        _pid, status, self.usage = os.wait4(self._proc.pid, 0)  # the writer's own resource usage
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        if self._proc.returncode != 0:
            self._fail()

    def abort(self) -> None:
        """The report failed on this side: stop the writer and drop its file."""
        self._proc.kill()
        self._proc.wait()
        self.path.unlink(missing_ok=True)

    def _fail(self) -> None:
        self._proc.kill()
        err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(errors="replace")
        self._proc.wait()
        raise RuntimeError(f"the sheet writer failed: {err.strip().splitlines()[-1] if err.strip() else 'no output'}")


def replay(path: str, title: str, source: BinaryIO) -> None:
    sheet = Sheet(path, title)
    formats: dict[tuple[Any, ...], Any] = {}

    def fmt(key: Any) -> Any:
        if isinstance(key, tuple) and key[:1] == ("fmt",):
            got = formats.get(key)
            if got is None:
                got = formats[key] = sheet.fmt(*key[1:])
            return got
        return key

    while True:
        try:
            ops = pickle.load(source)
        except EOFError:  # the report process died before the end: no half list under its name
            sheet.close()
            Path(path).unlink(missing_ok=True)
            raise SystemExit("the report process stopped before the list was complete") from None
        for op in ops:
            name = op[0]
            if name == "end":
                sheet.close()
                return
            if name == "cells":
                sheet.cells(op[1], op[2], fmt(op[3]), fmt(op[4]), fmt(op[5]))
            elif name == "write":
                sheet.write(op[1], op[2], fmt(op[3]))
            elif name == "next_row":
                sheet.next_row(op[1])
            elif name == "merged":
                sheet.merged(op[1], op[2], op[3], fmt(op[4]))
            elif name == "ws":
                getattr(sheet.ws, op[1])(*op[2], **op[3])
            else:
                raise ValueError(f"unknown sheet call {name!r}")


if __name__ == "__main__":
    replay(sys.argv[1], sys.argv[2], sys.stdin.buffer)
