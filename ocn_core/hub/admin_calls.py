"""Named admin calls: the HTTP admin API and the CLI address the engine's typed admin methods
by name; results come back in their one JSON shape (:func:`ocn_core.views.to_json`).

``run_admin_call(engine, authorization, name, args)`` checks the admin API key first and
returns JSON-able data or raises an :class:`~ocn_core.errors.AdminError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocn_core.errors import AdminError
from ocn_core.views import to_json

if TYPE_CHECKING:
    from ocn_core.engine import Engine


CALLS: dict[str, Callable[[Engine, dict[str, Any]], Any]] = {
    "create_registration_token": lambda e, a: e.create_registration_token(
        a.get("roles", []), a.get("ttl")
    ),
    "platforms": lambda e, a: e.platforms(),
    "platform": lambda e, a: e.platform(a["platform_id"]),
    "delete_platform": lambda e, a: e.delete_platform(a["platform_id"]),
    "connection_status": lambda e, a: e.connection_status(a["country_code"], a["party_id"]),
    "set_party": lambda e, a: e.set_party(**a),
    "delete_party": lambda e, a: e.delete_party(**a),
    "set_node": lambda e, a: e.set_node(a["operator"], a["url"]),
    # the node takes the initiative in credentials (awaitable: see run_admin_call_async)
    "connect": lambda e, a: e.connect_party(
        a["versions_url"], a["token_a"], a.get("version") or ""
    ),
    "rotate_credentials": lambda e, a: e.rotate_credentials(a["platform_id"]),
}


def run_admin_call(engine: Engine, authorization: str, name: str, args: dict[str, Any]) -> Any:
    result = _start(engine, authorization, name, args)
    if inspect.isawaitable(result):
        result.close()  # type: ignore[attr-defined]
        raise AdminError(f"Admin call {name!r} talks to a party: use run_admin_call_async")
    return result_json(name, result)


def _start(engine: Engine, authorization: str, name: str, args: dict[str, Any]) -> Any:
    """Check the key and call ``name``: its result, or the awaitable of a party-facing call."""
    engine.check_admin_key(authorization)
    call = CALLS.get(name)
    if call is None:
        raise AdminError(f"Unknown admin call {name!r}")
    try:
        return call(engine, args)
    except (TypeError, KeyError) as exc:
        raise AdminError(f"Missing or invalid arguments for {name}: {exc}") from None


def result_json(name: str, result: object) -> Any:
    """What the admin API answers for call ``name`` (shared by every way of reaching the core)."""
    if name == "delete_party":
        return {"deleted": True}
    return to_json(result)


async def run_admin_call_async(
    engine: Engine, authorization: str, name: str, args: dict[str, Any]
) -> Any:
    """:func:`run_admin_call` for every call, awaiting those that talk to a party."""
    result = _start(engine, authorization, name, args)
    if inspect.isawaitable(result):
        result = await result
    return result_json(name, result)
