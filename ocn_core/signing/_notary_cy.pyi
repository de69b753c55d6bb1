"""Type stubs of the Cython twin; the API is that of ``_notary_ref``."""

from collections.abc import Mapping
from typing import Any

from ocn_core.signing._codec import parse_json as parse_json
from ocn_core.signing._crypto import address_of as address_of
from ocn_core.signing._crypto import node_recover as node_recover
from ocn_core.signing._crypto import node_sign as node_sign
from ocn_core.signing._model import Rewrite as Rewrite

REQUEST_HEADERS: tuple[str, ...]
RESPONSE_HEADERS: tuple[str, ...]

class Notary:
    fields: list[str]
    hash: str
    rsv: str
    signatory: str
    rewrites: list[Rewrite]
    def __init__(
        self,
        fields: list[str] | None = ...,
        hash: str = ...,
        rsv: str = ...,
        signatory: str = ...,
        rewrites: list[Rewrite] | None = ...,
    ) -> None: ...
    @classmethod
    def deserialize(cls, header: str) -> Notary: ...
    def to_json(self) -> dict[str, Any]: ...
    def serialize(self) -> str: ...
    def sign(self, values: Mapping[str, Any], private_key: bytes | str) -> Notary: ...
    def stash(self, rewritten_fields: Mapping[str, Any]) -> None: ...
    def verify(self, values: Mapping[str, Any]) -> None: ...

def sign(values: Mapping[str, Any], private_key: bytes | str) -> Notary: ...
def request_values(
    headers: Mapping[str, str], params: Mapping[str, str] | None, body: object | None
) -> dict[str, Any]: ...
def response_values(headers: Mapping[str, str], body: object) -> dict[str, Any]: ...
