"""HTML building blocks of the report page: tables in their own scrolling box, human-formatted cells,
coloured check verdicts, embedded PNGs."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.report import numbers


def format_value(value: Any) -> str:
    """A table cell in a human format (see :func:`pipeline.report.numbers.cell`)."""
    return numbers.cell(value)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (one table column each); lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def table(rows: Sequence[Mapping[str, Any]], first_column: str | None = None) -> str:
    """An HTML table of dict rows in its own scrolling box; columns: the union of the rows' flattened
    keys, first-seen order. Values are formatted by :func:`format_value`; a value that is already
    markup is passed as :class:`Markup`."""
    flat_rows = [flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat_rows:
        columns.extend(key for key in row if key not in columns)
    if first_column in columns:
        columns.remove(first_column)
        columns.insert(0, first_column)
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in flat_rows)
    return f"<div class='scroll'><table><tr>{head}</tr>{body}</table></div>"


class Markup(str):
    """A cell that is already HTML (a coloured verdict), with an optional CSS class."""

    def __new__(cls, text: str, css: str = "") -> Markup:
        made = super().__new__(cls, text)
        made.css = css
        return made


def _cell(value: Any) -> str:
    if isinstance(value, Markup):
        return f"<td class='{value.css}'>{value}</td>" if value.css else f"<td>{value}</td>"
    return f"<td>{html.escape(format_value(value))}</td>"


def verdict_cell(verdict: str, mode: str | None) -> Markup:
    """A coloured checks verdict: pass, FAIL (gate) / warn (warn mode), no figure, skip, -."""
    if verdict == "fail":
        word, css = ("FAIL", "fail") if mode == "gate" else ("warn", "warn")
    else:
        word, css = {
            "pass": ("pass", "pass"),
            "missing": ("no figure", "missing"),
            "skipped": ("skip", "skipped"),
        }.get(verdict, ("–", ""))
    return Markup(word, css)


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded as a data URI."""
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'
