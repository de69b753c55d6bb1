"""Price and PriceLimit between OCPI 2.2.x and 2.3.0 (types.asciidoc, mod_tariffs PriceLimit).

2.2.x ``Price {excl_vat, incl_vat?}``; 2.3.0 ``Price {before_taxes, taxes: TaxAmount[*]}`` and,
for Tariff ``min_price`` / ``max_price``, ``PriceLimit {before_taxes, after_taxes?}``. Amounts
are computed in decimal arithmetic so that 8.50 / 9.35 become 8.50 + VAT 0.85 exactly, as the
spec's examples translate them. Members a function does not know are kept in place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeGuard

from ocn_core.bridge.notes import Notes, Refused

Number = int | float


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def decimal(value: Number) -> Decimal:
    """The decimal a JSON number spells (floats through their shortest repr)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def number(value: Decimal, *like: Number) -> Number:
    """``value`` as a JSON number: an int when every input was an int, else a float."""
    if all(isinstance(v, int) for v in like) and value == value.to_integral_value():
        return int(value)
    return float(value)


def replace_key(obj: dict[str, Any], old: str, new: str, value: Any) -> dict[str, Any]:
    """``obj`` with member ``old`` replaced by ``new: value`` at the same position."""
    return {(new if k == old else k): (value if k == old else v) for k, v in obj.items()}


def _amount(obj: dict[str, Any], name: str, notes: Notes, path: str) -> Number:
    value = obj.get(name)
    if not is_number(value):
        raise Refused(f"{path}.{name} must be a number to be translated ({notes.direction})")
    return value


def price_up(price: Any, notes: Notes, path: str) -> Any:
    """2.2.x Price → 2.3.0 Price: ``incl_vat - excl_vat`` becomes one ``VAT`` TaxAmount."""
    if not isinstance(price, dict):
        raise Refused(f"{path} must be a Price object to be translated ({notes.direction})")
    if "before_taxes" in price and "excl_vat" not in price:
        return price  # already in the target layout
    excl = _amount(price, "excl_vat", notes, path)
    taxes = None
    if price.get("incl_vat") is not None:
        incl = _amount(price, "incl_vat", notes, path)
        taxes = [{"name": "VAT", "amount": number(decimal(incl) - decimal(excl), excl, incl)}]
    notes.translated(path)
    return _relayout(price, ("excl_vat", "before_taxes"), "incl_vat", "taxes", taxes)


def price_down(price: Any, notes: Notes, path: str) -> Any:
    """2.3.0 Price → 2.2.x Price: ``incl_vat = before_taxes + Σ taxes.amount``.

    Absent ``taxes`` leaves ``incl_vat`` out (unknown, not zero). Tax names other than VAT,
    percentages and account numbers have no place in 2.2.x: they are dropped as a loss.
    """
    if not isinstance(price, dict):
        raise Refused(f"{path} must be a Price object to be translated ({notes.direction})")
    if "excl_vat" in price and "before_taxes" not in price:
        return price
    before = _amount(price, "before_taxes", notes, path)
    taxes = price.get("taxes")
    incl: Number | None = None
    if taxes is not None:
        if not isinstance(taxes, list) or not all(isinstance(t, dict) for t in taxes):
            raise Refused(f"{path}.taxes must be a list of TaxAmount ({notes.direction})")
        amounts = [_amount(t, "amount", notes, f"{path}.taxes[{i}]") for i, t in enumerate(taxes)]
        total = decimal(before) + sum((decimal(a) for a in amounts), Decimal(0))
        incl = number(total, before, *amounts)
        for i, tax in enumerate(taxes):
            dropped = sorted(set(tax) - {"amount", "name"})
            if dropped or tax.get("name") != "VAT":
                notes.lost(f"{path}.taxes[{i}]", f"name={tax.get('name')!r} {dropped}")
    notes.translated(path)
    return _relayout(price, ("before_taxes", "excl_vat"), "taxes", "incl_vat", incl)


def limit_up(price: Any, notes: Notes, path: str) -> Any:
    """2.2.x Price (Tariff min/max) → 2.3.0 PriceLimit ``{before_taxes, after_taxes}``."""
    return _rename(price, notes, path, ("excl_vat", "before_taxes"), ("incl_vat", "after_taxes"))


def limit_down(price: Any, notes: Notes, path: str) -> Any:
    """2.3.0 PriceLimit → 2.2.x Price ``{excl_vat, incl_vat}`` (a renaming, nothing lost)."""
    return _rename(price, notes, path, ("before_taxes", "excl_vat"), ("after_taxes", "incl_vat"))


def _rename(
    price: Any, notes: Notes, path: str, first: tuple[str, str], second: tuple[str, str]
) -> Any:
    if not isinstance(price, dict):
        raise Refused(f"{path} must be a price object to be translated ({notes.direction})")
    if first[1] in price and first[0] not in price:
        return price
    _amount(price, first[0], notes, path)
    out = replace_key(price, first[0], first[1], price[first[0]])
    if second[0] in out:
        if out[second[0]] is not None:
            _amount(out, second[0], notes, path)
        out = replace_key(out, second[0], second[1], out[second[0]])
    notes.translated(path)
    return out


def _relayout(
    price: dict[str, Any], rename: tuple[str, str], drop: str, add: str, value: Any
) -> dict[str, Any]:
    """One pass over ``price``: ``rename`` in place, ``add: value`` (unless None) right after
    it, member ``drop`` left out, every other member kept in place."""
    out: dict[str, Any] = {}
    for key, member in price.items():
        if key == rename[0]:
            out[rename[1]] = member
            if value is not None:
                out[add] = value
        elif key != drop:
            out[key] = member
    return out
