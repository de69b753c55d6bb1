"""What differs in the OCPI 2.3.0 credentials object: ``hub_party_id`` and the reachable roles.

OCPI 2.3.0 removed the ``HUB`` role: a platform with hub functionality names itself in
``hub_party_id`` (country code + party id, 5 characters) and lists the parties reachable through
it in ``roles`` (credentials.asciidoc, "In OCPI 2.3.0, unlike in OCPI 2.2 or 2.2.1, Roaming
Hubs' platforms are expected to include the parties that are reachable through the Roaming Hub").
"""

from __future__ import annotations

from typing import Any

from ocn_core.errors import InvalidRequest
from ocn_core.hub.context import NodeContext
from ocn_core.state.records import SUSPENDED

VERSION = "2.3.0"
ROLES = frozenset({"CPO", "EMSP", "NAP", "NSP", "OTHER", "SCSP", "PTP"})  # no HUB; PTP: payments
ROLES_22 = frozenset({"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"})


def roles_for(version: str) -> frozenset[str]:
    """The credentials roles a peer may register with under ``version``."""
    return ROLES if version == VERSION else ROLES_22


def hub_party_id(ctx: NodeContext) -> str:
    """The node's own party: country code + party id (the 2.2.x ``HUB`` role's ids)."""
    s = ctx.settings
    return (s.country_code + s.party_id).upper()


def check_hub_party_id(value: Any) -> str:
    """A peer's ``hub_party_id`` (CiString(5): 2-letter country + 3-character party), or ''."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) != 5 or not value.isascii() or not value.isalnum():
        raise InvalidRequest("Credentials 'hub_party_id' must be 5 characters: country + party id")
    return value.upper()


def reachable_roles(ctx: NodeContext, caller: str | None) -> list[dict[str, Any]]:
    """Every party reachable through this node, as CredentialsRole objects.

    The roles of the platforms connected here (SUSPENDED ones dropped, the caller's own left
    out) and the parties the OCN registry lists with other nodes (``HUB`` listings left out).
    When nothing is reachable yet the node lists itself as ``OTHER`` so ``roles`` (cardinality
    ``+``) is never empty.
    """
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for platform in ctx.platforms.all():
        if platform.id == caller or platform.status == SUSPENDED:
            continue
        for role in platform.roles:
            if role.role in ROLES:
                found[(role.role, role.country_code, role.party_id)] = {
                    "role": role.role,
                    "business_details": role.business_details or {"name": role.key},
                    "party_id": role.party_id,
                    "country_code": role.country_code,
                }
    mine = ctx.settings.public_url
    for party in ctx.registry.parties():
        if party.node_url.rstrip("/") == mine:
            continue  # served here: listed above if connected, unreachable otherwise
        for name in party.roles:
            key = (name, party.country_code.upper(), party.party_id.upper())
            if name in ROLES and key not in found:
                found[key] = {
                    "role": name,
                    "business_details": {"name": f"{key[1]}{key[2]} via {party.node_url}"},
                    "party_id": key[2],
                    "country_code": key[1],
                }
    if not found:
        s = ctx.settings
        found[("OTHER", s.country_code, s.party_id)] = {
            "role": "OTHER",
            "business_details": {"name": s.business_name},
            "party_id": s.party_id,
            "country_code": s.country_code,
        }
    return [found[k] for k in sorted(found)]
