"""Markdown for the results: one table per scenario with medians, [min-max] spread and ratios."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Renderer = Callable[[dict[str, Any]], list[str]]


def num(x: float | None, digits: int = 0) -> str:
    """Thousands-separated number, ``k`` above 10,000; ``-`` for missing."""
    if x is None or x != x:
        return "-"
    if abs(x) >= 10_000:
        return f"{x / 1000:,.1f}k"
    return f"{x:,.{digits}f}"


def ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def spread(s: dict[str, float] | None, digits: int = 0) -> str:
    """``median [min-max] ±spread%`` of repeated runs."""
    if not s:
        return "-"
    text = f"{num(s['median'], digits)} [{num(s['min'], digits)}-{num(s['max'], digits)}]"
    pct = s.get("spread_pct")
    return text if pct is None or pct != pct else f"{text} {pct:.0f}%"


def table(head: Sequence[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def scenario_targets(scenario: str, res: dict[str, Any]) -> list[dict[str, Any]]:
    """A scenario's targets as rows: a list of dicts as produced here, or a delegated module's
    ``{"<what>_met": bool, "<limit name>": number}`` mapping (values looked up in ``ratios``)."""
    found = res.get("targets")
    if isinstance(found, list):
        return [t if isinstance(t, dict) else {"name": str(t), "met": None} for t in found]
    if not isinstance(found, dict):
        return []
    found_ratios = res.get("ratios")
    ratios: dict[str, Any] = found_ratios if isinstance(found_ratios, dict) else {}
    limits = ", ".join(f"{k}={v}" for k, v in found.items() if not k.endswith("_met"))
    return [
        {"name": f"{scenario}: {k.removesuffix('_met')}", "met": v,
         "value": ratios.get(k.removesuffix("_met")), "note": limits}
        for k, v in found.items() if k.endswith("_met")
    ]  # fmt: skip


def targets(items: list[dict[str, Any]]) -> list[str]:
    rows = []
    for t in items:
        met = {True: "**met**", False: "**missed**"}.get(t.get("met") is True, "not measured")
        met = "not measured" if t.get("met") is None else met
        met = "noisy, not judged" if t.get("noisy") else met
        value = t.get("value")
        value = f"{value:.2f}" if isinstance(value, (int, float)) else "-"
        rows.append([t["name"], value, met, t.get("note", "")])
    return table(["target", "measured", "", "note"], rows) if rows else []


def generic(res: dict[str, Any]) -> list[str]:
    """Delegated scenarios: their own ``markdown`` if given, else a table of scalar row fields."""
    if isinstance(res.get("markdown"), str):
        return [res["markdown"]]
    rows = [r for r in res.get("rows", []) if isinstance(r, dict)]
    if not rows:
        flat = _flatten({k: v for k, v in res.items() if k not in ("elapsed_s", "targets")})
        return table(["measure", "value"], [[k, _cell(v)] for k, v in flat])
    keys = [k for k in rows[0] if isinstance(rows[0][k], (str, int, float, type(None)))]
    body = [[_cell(r.get(k)) for k in keys] for r in rows]
    return table(keys, body)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts as (dotted key, scalar) pairs; lists of scalars joined."""
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += _flatten(v, key)
        elif isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
            out.append((key, ", ".join(_cell(x) for x in v)))
        elif not isinstance(v, list):
            out.append((key, v))
    return out


def _cell(v: object) -> str:
    if isinstance(v, float):
        return num(v, 2 if abs(v) < 100 else 0)
    return "-" if v is None else str(v)


def document(meta: dict[str, Any], results: dict[str, dict[str, Any]],
             renderers: Mapping[str, Renderer]) -> str:  # fmt: skip
    lines = [f"# ocn-router benchmarks ({meta['mode']} mode, {meta['started']})", ""]
    lines += [f"Machine: {meta['machine']}. Commit {meta['commit']}. "
              f"Implementations: {meta.get('implementations') or '-'}.", ""]  # fmt: skip
    all_targets = [t for n, r in results.items() for t in scenario_targets(n, r)]
    if all_targets:
        lines += ["## Targets", "", *targets(all_targets), ""]
    for name, res in results.items():
        lines += [f"## {name}", ""]
        if "skipped" in res:
            lines += [f"Skipped: {res['skipped']}", ""]
            continue
        if "error" in res:
            lines += ["Failed:", "", "```", res["error"].strip(), "```", ""]
            continue
        lines += [*renderers.get(name, generic)(res), ""]
        for s in res.get("meta", {}).get("skipped_rows", []):
            lines += [f"Skipped rows `{s['name']}`: {s['reason']}", ""]
    return "\n".join(lines)
