"""Reference URL matcher (pure Python, written for clarity; the oracle of ``_match_cy``).

``match(method, path)`` returns ``(kind, module, interface, version, suffix, proxy_id)`` with
``kind`` an int of :class:`~ocn_core.model.RouteKind` and ``interface`` 0/1/2, or ``None`` when
no OCPI route has that shape. Shapes served (``{v}`` is 2.2 or 2.2.1)::

    /ocpi/versions                          VERSIONS
    /ocpi/{v}                               VERSION_DETAILS
    /ocpi/{v}/credentials                   CREDENTIALS
    /ocpi/{v}/hubclientinfo                 HUBCLIENTINFO
    /ocpi/{sender|receiver}/{v}/{module}/…  MODULE, or PAGE / PROXIED for node-issued URLs
    /ocpi/{v}/{sender|receiver}/{module}/…  legacy alias of the line above (reference node)
    /ocpi/custom/{sender|receiver}/{id}/…   CUSTOM
"""

from __future__ import annotations

VERSIONS = ("2.2", "2.2.1", "2.3.0")
MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
MODULES_230 = ("payments", "Booking", "invoicereconciliation")  # optional modules, 2.3.0 only
PAGED = ("cdrs", "locations", "sessions", "tariffs", "tokens", *MODULES_230)
COMMANDS = (
    "CANCEL_RESERVATION",
    "RESERVE_NOW",
    "START_SESSION",
    "STOP_SESSION",
    "UNLOCK_CONNECTOR",
)
ROLES = {"sender": 1, "receiver": 2}

K_VERSIONS, K_DETAILS, K_CREDENTIALS, K_HUBCLIENTINFO = 1, 2, 3, 4
K_MODULE, K_PAGE, K_PROXIED, K_CUSTOM = 5, 6, 7, 8

Match = tuple[int, str, int, str, str, str]


def match(method: str, path: str) -> Match | None:
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "ocpi" or "" in parts:
        return None
    head = parts[1]
    if head == "versions" and len(parts) == 2:
        return (K_VERSIONS, "versions", 0, "", "", "")
    if head in VERSIONS:
        return _match_versioned(method, head, parts[2:])
    if head == "custom" and len(parts) >= 4 and parts[2] in ROLES:
        return (K_CUSTOM, parts[3], ROLES[parts[2]], "", "/".join(parts[4:]), "")
    if head in ROLES and len(parts) >= 4 and parts[2] in VERSIONS:
        return _match_module(method, ROLES[head], parts[2], parts[3], parts[4:])
    return None


def _match_versioned(method: str, version: str, rest: list[str]) -> Match | None:
    if not rest:
        return (K_DETAILS, "versions", 0, version, "", "")
    if rest == ["credentials"]:
        return (K_CREDENTIALS, "credentials", 0, version, "", "")
    if rest == ["hubclientinfo"]:
        return (K_HUBCLIENTINFO, "hubclientinfo", 1, version, "", "")
    if len(rest) >= 2 and rest[0] in ROLES:  # legacy /ocpi/2.2/{role}/{module}/...
        return _match_module(method, ROLES[rest[0]], version, rest[1], rest[2:])
    return None


def _match_module(
    method: str, interface: int, version: str, module: str, rest: list[str]
) -> Match | None:
    if module not in MODULES and (version != "2.3.0" or module not in MODULES_230):
        return None
    suffix = "/".join(rest)
    if interface == 1:
        if len(rest) == 2 and rest[0] == "page" and module in PAGED and method == "GET":
            return (K_PAGE, module, interface, version, "", rest[1])
        if module == "commands" and len(rest) == 2 and rest[0] in COMMANDS:
            return (K_PROXIED, module, interface, version, rest[0], rest[1])
        if module == "chargingprofiles" and len(rest) == 2 and rest[0] == "result":
            return (K_PROXIED, module, interface, version, "result", rest[1])
    elif len(rest) == 2 and rest[0] == "page" and module in PAGED and method == "GET":
        return (K_PAGE, module, interface, version, "", rest[1])
    elif module == "cdrs" and len(rest) == 1 and method == "GET":
        return (K_PROXIED, module, interface, version, "", rest[0])
    return (K_MODULE, module, interface, version, suffix, "")
