"""Numbers as a physicist reads them on the report page: ``20,944`` LUTs, ``4.65 M`` BOPs, ``73.1 %``.

Formatting only; the stored documents keep full precision.
"""

from __future__ import annotations

import json
import math
from typing import Any

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def count(value: float | int | None) -> str:
    """An exact count with thousands separators: ``20944`` -> ``20,944``."""
    if value is None:
        return "–"
    return f"{round(value):,}"


def si(value: float | int | None, digits: int = 3) -> str:
    """A large figure with an SI prefix and ``digits`` significant digits: ``4653000`` -> ``4.65 M``;
    below 10,000 the number itself (``286``, ``0.312``)."""
    if value is None:
        return "–"
    magnitude = abs(value)
    for scale, prefix in _PREFIXES:
        if magnitude >= 10 * scale or (scale >= 1e6 and magnitude >= scale):
            return f"{_significant(value / scale, digits)} {prefix}"
    return plain(value, digits)


def percent(fraction: float | None, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.7312`` -> ``73.1 %``."""
    if fraction is None:
        return "–"
    return f"{100.0 * fraction:.{decimals}f} %"


def plain(value: float | int | None, digits: int = 4) -> str:
    """A number without scientific notation: integers with separators, others with ``digits``
    significant digits (``0.9283``, ``31.25``); very small magnitudes keep their exponent."""
    if value is None:
        return "–"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return _significant(value, digits)


def _significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(value: Any) -> str:
    """A generic table cell: ``None`` as an en dash, booleans as yes/no, numbers via :func:`plain`
    (large ones via :func:`si`), lists and mappings as short JSON."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return si(value, 4) if abs(value) >= 1e5 and not value.is_integer() else plain(value)
    if isinstance(value, list | dict):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)
