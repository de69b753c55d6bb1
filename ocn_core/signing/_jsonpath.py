"""The subset of ``jsonpath@1`` the notary needs: parse a field path, read it, assign it.

Reference paths look like ``$['body']['evses'][0]['uid']``. Like ``jsonpath`` we take the
quoted text raw (no unescaping; a backslash may only precede one of ``'"\\/bfnrt`` or ``uXXXX``),
accept ``.name`` / ``.123`` members and ``[n]`` indices, and refuse ``__proto__``, ``prototype``
and ``constructor``. Wildcards, slices, unions, ``..`` and script/filter expressions are refused
as well: the reference never produces them.

A parsed path is a tuple of segments: ``str`` (member: object key, or array index / ``length`` on
an array, as JavaScript's ``in``) or ``int`` (subscript: array elements only).
"""

from __future__ import annotations

import re
from typing import Any

from ocn_core.signing.errors import UnsupportedFieldPath

Segment = str | int
Path = tuple[Segment, ...]

MAX_PATH_CHARS = 4096
_UNSAFE = frozenset({"__proto__", "prototype", "constructor"})
_TOKEN = re.compile(
    r"""\[(?:'((?:\\['bfnrt/\\]|\\u[a-fA-F0-9]{4}|[^'\\])*)'"""
    r"""|"((?:\\["bfnrt/\\]|\\u[a-fA-F0-9]{4}|[^"\\])*)"|(-?(?:0|[1-9][0-9]*)))\]"""
    r"""|\.(?:([a-zA-Z_]+[a-zA-Z0-9_]*)|(-?(?:0|[1-9][0-9]*)))""",
    re.DOTALL,
)
_CACHE: dict[str, Path] = {}
_CACHE_MAX = 65536


def parse_path(text: str) -> Path:
    """Segments of ``text``; raises :class:`UnsupportedFieldPath`."""
    if len(text) > MAX_PATH_CHARS:
        raise UnsupportedFieldPath(f"Field path longer than {MAX_PATH_CHARS} characters.")
    if not text.startswith("$"):
        raise UnsupportedFieldPath(f"Unsupported field path {text[:80]!r}: must start with '$'.")
    segments: list[Segment] = []
    pos, end = 1, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise UnsupportedFieldPath(f"Unsupported field path {text[:80]!r} at offset {pos}.")
        quoted, dquoted, index, ident, member_num = m.groups()
        if index is not None:
            segments.append(int(index))
        else:
            key = next(g for g in (quoted, dquoted, ident, member_num) if g is not None)
            if key in _UNSAFE:
                raise UnsupportedFieldPath(f"Unsafe key in field path: {key}")
            segments.append(key)
        pos = m.end()
    return tuple(segments)


def cached_path(text: str) -> Path:
    """:func:`parse_path` through a bounded cache (paths repeat across messages)."""
    path = _CACHE.get(text)
    if path is None:
        path = parse_path(text)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[text] = path
    return path


def array_index(key: str, length: int) -> int:
    """The element a string key names on an array of ``length``, or -1."""
    if key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and len(key) <= 10:
        i = int(key)
        if i < length:
            return i
    return -1


MISSING: Any = object()  # "no match" (distinct from a null value)
_MAX_INDEX = 4294967294
_MAX_GROWTH = 1 << 16


def step(node: object, seg: Segment) -> Any:
    """One ``jsonpath`` child step; ``MISSING`` when nothing matches."""
    if isinstance(seg, int):
        if isinstance(node, list) and 0 <= seg < len(node):
            return node[seg]
        return MISSING
    if isinstance(node, dict):
        return node.get(seg, MISSING)
    if isinstance(node, list):
        i = array_index(seg, len(node))
        if i >= 0:
            return node[i]
        if seg == "length":
            return len(node)
    return MISSING


def lookup(root: object, path: Path) -> Any:
    """The first match of ``path`` in ``root``, or ``MISSING``."""
    node = root
    for seg in path:
        node = step(node, seg)
        if node is MISSING:
            break
    return node


def assign(root: dict[str, Any], path: Path, value: object) -> None:
    """``jsonpath.value(root, path, value)``: set an existing match, else vivify the parents.

    Missing or falsy (null, false, 0, "") parents become ``{}`` (string key) or ``[]`` (index);
    assigning into a truthy primitive or an array's non-index property is ignored, as in sloppy-mode
    JavaScript. Array holes read as null, which concatenates like JavaScript's hole ("").
    """
    if not path:
        raise UnsupportedFieldPath("Cannot rewrite the root '$'.")
    parent = lookup(root, path[:-1])
    key = path[-1]
    if parent is MISSING or (not parent and not isinstance(parent, dict | list)):
        assign(root, path[:-1], {} if isinstance(key, str) else [])
        parent = lookup(root, path[:-1])
    _put(parent, key, value)


def _put(parent: object, key: Segment, value: object) -> None:
    if isinstance(parent, dict):
        parent[str(key)] = value
    elif isinstance(parent, list):
        if key == "length":
            raise UnsupportedFieldPath("Cannot rewrite an array's length.")
        i = key if isinstance(key, int) else array_index(key, _MAX_INDEX + 1)
        if 0 <= i <= _MAX_INDEX:
            if i >= len(parent):
                if i - len(parent) > _MAX_GROWTH:
                    raise UnsupportedFieldPath("Rewrite index too far beyond the end of an array.")
                parent.extend([None] * (i + 1 - len(parent)))
            parent[i] = value
    elif parent is MISSING:
        raise UnsupportedFieldPath("Cannot rewrite below a non-object value.")
    # else: a truthy primitive; ignored as JavaScript would
