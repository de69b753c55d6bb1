from typing import Any

from ocn_core.registry.types import Party

def lookup_party(
    env: Any, parties: Any, nodes: Any, country_code: str, party_id: str
) -> Party | None: ...
def lookup_party_by_key(env: Any, parties: Any, nodes: Any, key: bytes) -> Party | None: ...
