"""Named admin calls (shared by the in-process gateway path and the gRPC AdminService).

Each call checks the admin API key first. ``run_admin_call(engine, authorization, name, args)``
returns plain JSON-able data or raises an :class:`~ocn_core.errors.AdminError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocn_core.errors import AdminError
from ocn_core.hub import initiative

if TYPE_CHECKING:
    from ocn_core.engine import Engine


def _create_token(engine: Engine, args: dict[str, Any]) -> Any:
    return engine.admin.create_registration_token(args.get("roles", []), args.get("ttl"))


def _set_party(engine: Engine, args: dict[str, Any]) -> Any:
    return engine.registry_admin.set_party(**args)


def _delete_party(engine: Engine, args: dict[str, Any]) -> Any:
    return engine.registry_admin.delete_party(**args)


CALLS: dict[str, Callable[[Engine, dict[str, Any]], Any]] = {
    "create_registration_token": _create_token,
    "platforms": lambda e, a: e.admin.platforms(),
    "platform": lambda e, a: e.admin.platform(a["platform_id"]),
    "delete_platform": lambda e, a: e.admin.delete_platform(a["platform_id"]),
    "connection_status": lambda e, a: e.admin.connection_status(a["country_code"], a["party_id"]),
    "set_party": _set_party,
    "delete_party": _delete_party,
    "set_node": lambda e, a: e.registry_admin.set_node(a["operator"], a["url"]),
    # the node takes the initiative in credentials (awaitable: see run_admin_call_async)
    "connect": lambda e, a: initiative.connect(
        e.ctx, a["versions_url"], a["token_a"], a.get("version") or ""
    ),
    "rotate_credentials": lambda e, a: initiative.rotate(e.ctx, a["platform_id"]),
}


def run_admin_call(engine: Engine, authorization: str, name: str, args: dict[str, Any]) -> Any:
    engine.admin.check_key(authorization)
    call = CALLS.get(name)
    if call is None:
        raise AdminError(f"Unknown admin call {name!r}")
    try:
        return call(engine, args)
    except (TypeError, KeyError) as exc:
        raise AdminError(f"Missing or invalid arguments for {name}: {exc}") from None


async def run_admin_call_async(
    engine: Engine, authorization: str, name: str, args: dict[str, Any]
) -> Any:
    """:func:`run_admin_call`, awaiting the calls that talk to a party (connect, rotate)."""
    result = run_admin_call(engine, authorization, name, args)
    return await result if inspect.isawaitable(result) else result
