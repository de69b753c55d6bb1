"""A flame graph SVG from collapsed stacks (``a;b;c 12`` lines, py-spy ``--format raw``).

Kept small and dependency-free so every ``make bench-profile`` leaves a viewable artefact next to
the text summary: each frame is a box as wide as its share of the samples, children above it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

WIDTH, ROW, FONT = 1200.0, 16, 11


def _tree(lines: list[str]) -> tuple[dict[str, object], int]:
    """Nested ``{frame: [count, children]}`` and the total sample count."""
    root: dict[str, object] = {}
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        total += k
        node = root
        for frame in stack.split(";"):
            entry = node.setdefault(frame, [0, {}])
            assert isinstance(entry, list)
            entry[0] += k
            node = entry[1]
    return root, total


def render(files: list[Path], title: str) -> str:
    """The SVG text for the stacks in ``files``."""
    lines = [line for f in files for line in f.read_text().splitlines()]
    root, total = _tree(lines)
    height = (max((line.count(";") for line in lines), default=0) + 2) * ROW + 24
    body: list[str] = []

    def walk(node: dict[str, object], x: float, depth: int) -> None:
        for frame, entry in sorted(node.items()):
            assert isinstance(entry, list)
            count, children = entry
            w = WIDTH * count / max(1, total)
            if w >= 0.5:
                y = height - 8 - (depth + 1) * ROW
                body.append(_box(frame, 100.0 * count / max(1, total), count, x, y, w))
                walk(children, x, depth + 1)
            x += w

    walk(root, 0.0, 0)
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" height="{height}" '
        f'font-family="monospace" font-size="{FONT}">',
        f'<text x="4" y="14">{escape(title)} ({total} samples; hover a box for its share)</text>',
        *body, "</svg>",
    ])  # fmt: skip


def _box(frame: str, pct: float, count: int, x: float, y: int, w: float) -> str:
    hue = 20 + sum(frame.encode()) % 40  # stable per function, warm colours
    label = escape(frame if len(frame) * 6.6 < w else frame[: max(0, int(w / 6.6) - 2)] + "..")
    return (
        f"<g><title>{escape(frame)}: {count} samples, {pct:.1f}%</title>"
        f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
        f'fill="hsl({hue},85%,60%)"/>'
        f'<text x="{x + 2:.1f}" y="{y}" dy="{ROW - 4}">{label if w > 20 else ""}</text></g>'
    )


def write(files: list[Path], out: Path, title: str) -> Path:
    """Render ``files`` into ``out`` (an .svg) and return it."""
    out.write_text(render(files, title))
    return out
