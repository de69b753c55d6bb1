"""Version bridging: OCPI 2.2 / 2.2.1 parties and OCPI 2.3.0 parties routed to each other.

The one place where the node changes a message because its sender and receiver speak different
OCPI versions. Only modules whose objects differ are translated (Sessions, CDRs, Tariffs: Price,
PriceLimit, ``tax_included``); every other module passes untouched. Requests are translated from
the sender's version to the receiver's, answers back. What cannot be translated without inventing
data is refused (HTTP 400 / OCPI 2001). Each translated message is logged and counted, each loss
too (:func:`counts`). Same-version traffic never enters this package.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import structlog

from ocn_core import telemetry
from ocn_core.bridge.notes import Notes, Refused
from ocn_core.bridge.objects import (
    Translate,
    cdr_down,
    cdr_up,
    session_down,
    session_up,
    tariff_down,
    tariff_up,
)

log = structlog.get_logger(__name__)

NEW = "2.3.0"
REMOTE = "remote"  # the direction label of a party on another node (its version is not known)
# (module, towards 2.3.0?) → the object translation
_FUNCTIONS: dict[tuple[str, bool], Translate] = {
    ("tariffs", True): tariff_up,
    ("tariffs", False): tariff_down,
    ("sessions", True): session_up,
    ("sessions", False): session_down,
    ("cdrs", True): cdr_up,
    ("cdrs", False): cdr_down,
}
MODULES = frozenset(module for module, _ in _FUNCTIONS)
_COUNTS: Counter[str] = Counter()


def needed(module: str, sender_version: str, receiver_version: str) -> bool:
    """True when ``module`` bodies differ between the two versions (2.2 and 2.2.1 do not).

    An empty ``sender_version`` is another node's party: its messages are translated towards
    the receiver's version by shape (what already has the target layout stays as it is).
    """
    if not receiver_version or module not in MODULES:
        return False  # an unknown receiver version is never guessed
    return not sender_version or (sender_version == NEW) != (receiver_version == NEW)


def translate_object(module: str, obj: Any, source: str, target: str) -> tuple[Any, Notes]:
    """One decoded object of ``module`` from OCPI ``source`` to ``target`` (pure)."""
    notes = Notes(f"{source or REMOTE}>{target}", source_known=bool(source))
    fn = _FUNCTIONS[(module, target == NEW)]
    return fn(obj, notes, module.rstrip("s")), notes


def request_body(module: str, body: bytes, source: str, target: str) -> bytes:
    """A request body (one object, or a PATCH fragment) translated; empty stays empty."""
    if not body:
        return body
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(f"Request body is not JSON, cannot translate it: {exc}") from None
    out, notes = _translate(module, obj, source, target, "request")
    return orjson.dumps(out) if notes.changes else body


def response_body(module: str, body: bytes, source: str, target: str) -> bytes:
    """An answer's envelope with its ``data`` (an object or a list of objects) translated.

    Answers other than 1000 with object/list data, and answers that are not JSON, pass
    untouched.
    """
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:  # relayed as it came, as between same-version parties
        return body
    if not isinstance(envelope, dict) or envelope.get("status_code") != 1000:
        return body
    data = envelope.get("data")
    if isinstance(data, list):
        notes = Notes(f"{source or REMOTE}>{target}", source_known=bool(source))
        items = []
        for i, item in enumerate(data):
            translated, one = _translate(module, item, source, target, "response", index=i)
            notes.changes += one.changes
            notes.losses += one.losses
            items.append(translated)
        envelope["data"] = items
    elif isinstance(data, dict):
        envelope["data"], notes = _translate(module, data, source, target, "response")
    else:
        return body
    return orjson.dumps(envelope) if notes.changes else body


def _translate(
    module: str, obj: Any, source: str, target: str, leg: str, index: int | None = None
) -> tuple[Any, Notes]:
    direction = f"{source or REMOTE}>{target}"
    try:
        out, notes = translate_object(module, obj, source, target)
    except Refused as exc:
        _count("refused", module, leg, direction)
        log.warning("bridge_refused", module=module, leg=leg, direction=direction, why=exc.message)
        where = f" (item {index})" if index is not None else ""
        raise Refused(f"Cannot bridge {module} {leg} {direction}{where}: {exc.message}") from None
    if notes.changes:
        _count("translated", module, leg, direction)
        log.debug("bridged", module=module, leg=leg, direction=direction, changed=notes.changes)
    if notes.losses:
        _count("lost", module, leg, direction, len(notes.losses))
        log.info("bridge_loss", module=module, leg=leg, direction=direction, lost=notes.losses)
    return out, notes


def note_loss(module: str, leg: str, direction: str, what: str) -> None:
    """A loss the caller made around a translation (e.g. a signature that cannot follow it)."""
    _count("lost", module, leg, direction)
    log.info("bridge_loss", module=module, leg=leg, direction=direction, lost=[what])


def _count(outcome: str, module: str, leg: str, direction: str, by: int = 1) -> None:
    _COUNTS[f"{outcome} {module} {leg} {direction}"] += by
    telemetry.count("bridged", module, leg, direction, outcome, by=by)  # ocn_bridged_messages


def counts() -> dict[str, int]:
    """Bridged messages, losses and refusals so far in this process, by module/leg/direction."""
    return dict(_COUNTS)


__all__ = [
    "MODULES",
    "Notes",
    "Refused",
    "counts",
    "needed",
    "note_loss",
    "request_body",
    "response_body",
    "translate_object",
]
