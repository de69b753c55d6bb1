"""JavaScript semantics the reference notary relies on: key order, ``String``, ``JSON.stringify``.

The notary concatenates values with JavaScript's ``+``, iterates objects with ``Object.entries`` and
serialises with ``JSON.stringify``; these helpers reproduce exactly that for JSON-shaped Python data
(dict with str keys, list, str, int, float, bool, None).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

_MAX_ARRAY_INDEX = 4294967294  # 2**32 - 2: the largest key JavaScript orders as an integer
_SAFE_INT = 1 << 53
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_array_index(key: str) -> bool:
    """True for canonical decimal keys ``0 .. 2**32-2`` (``"01"``, ``"-1"`` are plain strings)."""
    if not key or len(key) > 10 or not key.isascii() or not key.isdigit():
        return False
    if key[0] == "0":
        return len(key) == 1
    return int(key) <= _MAX_ARRAY_INDEX


def js_keys(obj: dict[str, Any]) -> Iterable[str]:
    """Keys in ``Object.entries`` order: array-index keys ascending first, then insertion order."""
    indices = [k for k in obj if isinstance(k, str) and is_array_index(k)]
    if not indices:
        return obj.keys()
    indices.sort(key=int)
    return indices + [k for k in obj if not (isinstance(k, str) and is_array_index(k))]


def js_number(value: int | float) -> str:
    """``String(n)`` for a JavaScript number; ints are first rounded to the nearest double."""
    if isinstance(value, int):
        if -_SAFE_INT < value < _SAFE_INT:
            return int.__repr__(value)
        try:
            value = float(value)
        except OverflowError:
            return "Infinity" if value > 0 else "-Infinity"
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole) + int(exp or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    tail = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + tail


def js_text(value: object) -> str:
    """``String(value)`` as an array element: null -> "", arrays joined by ",", objects."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join([js_text(v) for v in value])
    if isinstance(value, dict):
        if "toString" in value:  # an own, non-callable toString: JavaScript's String() throws
            raise ValueError("Cannot convert object to primitive value")
        return "[object Object]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _quote(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    if _LONE_SURROGATE.search(out):
        out = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out


def js_stringify(value: object) -> str:
    """``JSON.stringify(value)`` (compact) for JSON-shaped data."""
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        text = js_number(value)
        return "null" if text in ("NaN", "Infinity", "-Infinity") else text
    if isinstance(value, list):
        return "[" + ",".join([js_stringify(v) for v in value]) + "]"
    if isinstance(value, dict):
        return (
            "{" + ",".join([_quote(k) + ":" + js_stringify(value[k]) for k in js_keys(value)]) + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")
