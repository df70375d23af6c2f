"""The first problem of a candle file that did not read, found row by row, with its position.

Slow on purpose: it only runs once a quick reader has failed, to tell the trader exactly which
line and column to fix.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from quantumflux.files.cells import LoadError, map_columns, parse_time_cell
from quantumflux.files.columns import CANDLE_COLUMNS


def diagnose(path: str | os.PathLike[str]) -> LoadError:
    """The first problem of a file, as a :class:`LoadError` naming its line and column."""
    p = Path(path)
    try:
        fh = p.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        return LoadError(p, 1, 1, f"cannot read the file: {exc}")
    with fh:
        reader = csv.reader(fh, skipinitialspace=True)
        try:
            header = next(reader)
        except StopIteration:
            return LoadError(p, 1, 1, "the file is empty")
        except (csv.Error, UnicodeDecodeError) as exc:
            return LoadError(p, 1, 1, f"not a CSV file: {exc}")
        try:
            cols = map_columns(p, header)
        except LoadError as exc:
            return exc
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                problem = row_problem(row, header, cols)
                if problem is not None:
                    return LoadError(p, line, problem[0], problem[1])
        except (csv.Error, UnicodeDecodeError) as exc:
            return LoadError(p, line + 1, 1, f"not a CSV line: {exc}")
    return LoadError(p, 1, 1, "the file cannot be read as candles")


def row_problem(row: list[str], header: list[str], cols: dict[str, int]) -> tuple[int, str] | None:
    """The column (from 1) and the problem of one row, or None when the row is fine."""
    if not row:
        return None
    if all(not cell.strip() for cell in row):
        return 1, "a line with no values"
    if len(row) != len(header):
        return (
            min(len(row), len(header)) + 1,
            f"{len(row)} values where the header has {len(header)} columns",
        )
    tcell = row[cols["time"]]
    if not tcell.strip():
        return cols["time"] + 1, f"empty {header[cols['time']].strip()}"
    if parse_time_cell(tcell) is None:
        return cols["time"] + 1, f"{tcell.strip()!r} is not a time (use ISO 8601, epoch seconds or ms)"
    values: dict[str, float] = {}
    for column in CANDLE_COLUMNS[1:]:
        if column.name not in cols:
            continue
        i = cols[column.name]
        found = _cell(row[i].strip(), header[i].strip(), column.kind)
        if isinstance(found, str):
            return i + 1, found
        values[column.name] = found
    return _price_order(values, cols)


def _cell(cell: str, label: str, kind: str) -> float | str:
    """The value of a number cell of ``kind``, or what is wrong with it."""
    if kind == "amount" and not cell:
        return math.nan  # an amount nobody knows
    found = _number(cell, label, kind == "price")
    if isinstance(found, str):
        return found
    if kind == "flag" and found not in (0.0, 1.0):
        return f"{cell!r} is not 1 or 0 ({label})"
    if kind == "amount" and not found.is_integer():
        return f"{cell!r} is not a whole number ({label})"
    return found


def _number(cell: str, label: str, price: bool) -> float | str:
    """The value of a number cell, or what is wrong with it."""
    if not cell:
        return f"empty {label}"
    try:
        value = float(cell)
    except ValueError:
        return f"{cell!r} is not a number ({label})"
    if not math.isfinite(value) or (value <= 0 and price) or value < 0:
        return f"{cell!r} is not a valid {label}"
    return value


def _price_order(values: dict[str, float], cols: dict[str, int]) -> tuple[int, str] | None:
    o, h, low, c = values["open"], values["high"], values["low"], values["close"]
    if h < max(o, c, low):
        return cols["high"] + 1, f"high {h} is below open, close or low"
    if low > min(o, c):
        return cols["low"] + 1, f"low {low} is above open or close"
    return None
