"""Tariff, Session and CDR bodies between OCPI 2.2.x and 2.3.0: one pure function per direction.

``*_up`` translates a 2.2 / 2.2.1 object to 2.3.0, ``*_down`` the reverse. Each takes a decoded
object (a full object or a PATCH fragment), returns a new one and records in ``notes`` what it
translated and lost; it raises :class:`~ocn_core.bridge.notes.Refused` for what cannot be
translated without inventing data. Members they do not know are kept, in place.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ocn_core.bridge.notes import Notes, Refused
from ocn_core.bridge.price import (
    decimal,
    is_number,
    limit_down,
    limit_up,
    price_down,
    price_up,
)

Translate = Callable[[Any, Notes, str], Any]

CDR_PRICES = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
_FOUR = Decimal("0.0001")  # OCPI numbers: 4 decimals


def _object(obj: Any, notes: Notes, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise Refused(f"{path} must be a JSON object to be translated ({notes.direction})")
    return obj


def _fields(
    obj: dict[str, Any], names: tuple[str, ...], fn: Translate, notes: Notes, path: str
) -> dict[str, Any]:
    """``obj`` with each present member of ``names`` passed through ``fn`` (copied on change)."""
    out = obj
    for name in names:
        if obj.get(name) is not None:
            if out is obj:
                out = dict(obj)
            out[name] = fn(obj[name], notes, f"{path}.{name}")
    return out


def tariff_up(tariff: Any, notes: Notes, path: str = "tariff") -> dict[str, Any]:
    """2.2.x Tariff → 2.3.0: min/max_price become PriceLimit; ``tax_included: "NO"`` is added.

    In 2.2.x every PriceComponent price is "excl. VAT", which 2.3.0 spells ``NO`` (the spec's
    own examples translate every 2.2.1 tariff, free ones included, with ``"NO"``).
    """
    out = _fields(_object(tariff, notes, path), ("min_price", "max_price"), limit_up, notes, path)
    if "tax_included" not in out and "elements" in out:
        out = _with_tax_included(out)
        notes.translated(f"{path}.tax_included")
    return out


def tariff_down(tariff: Any, notes: Notes, path: str = "tariff") -> dict[str, Any]:
    """2.3.0 Tariff → 2.2.x: PriceLimit become Price; ``tax_included`` goes.

    ``NO`` / ``N/A`` prices are already net. ``YES`` prices include taxes: they are made net
    with each component's ``vat`` (price / (1 + vat/100), 4 decimals); a ``YES`` tariff with a
    component without ``vat`` (North American taxes) is refused: the tax part is unknown. An
    absent ``tax_included`` (required, but missing from the spec's own CDR example) passes the
    prices unchanged and is recorded as a loss.
    """
    obj = _object(tariff, notes, path)
    out = _fields(obj, ("min_price", "max_price"), limit_down, notes, path)
    if "tax_included" not in out:
        if "elements" in out and notes.source_known:  # required in 2.3.0; missing in the
            # spec's own CDR example (from another node's party: a 2.2.x tariff, unchanged)
            notes.lost(f"{path}.tax_included", "absent: prices passed on as excl. VAT")
        return out
    included = out["tax_included"]
    out = {k: v for k, v in out.items() if k != "tax_included"}
    if included == "YES":
        out["elements"] = _net_elements(out.get("elements"), notes, path)
    elif included not in ("NO", "N/A"):
        raise Refused(f"{path}.tax_included {included!r} is not YES, NO or N/A")
    notes.translated(f"{path}.tax_included")
    return out


def session_up(session: Any, notes: Notes, path: str = "session") -> dict[str, Any]:
    """2.2.x Session (or PATCH) → 2.3.0: ``total_cost`` Price."""
    return _fields(_object(session, notes, path), ("total_cost",), price_up, notes, path)


def session_down(session: Any, notes: Notes, path: str = "session") -> dict[str, Any]:
    """2.3.0 Session (or PATCH) → 2.2.x: ``total_cost`` Price."""
    return _fields(_object(session, notes, path), ("total_cost",), price_down, notes, path)


def cdr_up(cdr: Any, notes: Notes, path: str = "cdr") -> dict[str, Any]:
    """2.2.x CDR → 2.3.0: the six cost Prices and every Tariff in ``tariffs``."""
    out = _fields(_object(cdr, notes, path), CDR_PRICES, price_up, notes, path)
    return _tariffs(out, tariff_up, notes, path)


def cdr_down(cdr: Any, notes: Notes, path: str = "cdr") -> dict[str, Any]:
    """2.3.0 CDR → 2.2.x: the six cost Prices and every Tariff in ``tariffs``."""
    out = _fields(_object(cdr, notes, path), CDR_PRICES, price_down, notes, path)
    return _tariffs(out, tariff_down, notes, path)


def _tariffs(cdr: dict[str, Any], fn: Translate, notes: Notes, path: str) -> dict[str, Any]:
    tariffs = cdr.get("tariffs")
    if tariffs is None:
        return cdr
    if not isinstance(tariffs, list):
        raise Refused(f"{path}.tariffs must be a list of Tariff ({notes.direction})")
    out = dict(cdr)
    out["tariffs"] = [fn(t, notes, f"{path}.tariffs[{i}]") for i, t in enumerate(tariffs)]
    return out


def _with_tax_included(tariff: dict[str, Any]) -> dict[str, Any]:
    """``tariff`` with ``tax_included: "NO"`` right after ``elements`` (the spec's order)."""
    out: dict[str, Any] = {}
    for key, value in tariff.items():
        out[key] = value
        if key == "elements":
            out["tax_included"] = "NO"
    return out


def _net_elements(elements: Any, notes: Notes, path: str) -> list[Any]:
    if not isinstance(elements, list):
        raise Refused(f"{path}.elements must be a list of TariffElement")
    out = []
    for i, element in enumerate(elements):
        where = f"{path}.elements[{i}]"
        components = element.get("price_components") if isinstance(element, dict) else None
        if not isinstance(components, list):
            raise Refused(f"{where}.price_components must be a list of PriceComponent")
        net = []
        for j, pc in enumerate(components):
            at = f"{where}.price_components[{j}]"
            if not isinstance(pc, dict) or not is_number(pc.get("price")):
                raise Refused(f"{at}.price must be a number")
            vat = pc.get("vat")
            if not is_number(vat):
                raise Refused(
                    f"{at}: tax_included YES without a vat percentage cannot be expressed in "
                    "OCPI 2.2.x, whose prices exclude VAT (the taxes included are unknown)"
                )
            price = decimal(pc["price"]) / (1 + decimal(vat) / 100)
            net.append({**pc, "price": float(price.quantize(_FOUR, ROUND_HALF_UP))})
            notes.translated(f"{at}.price")
        out.append({**element, "price_components": net})
    return out
