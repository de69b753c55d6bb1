"""OCN-Signature (OCN Notary), byte-compatible with ``@shareandcharge/ocn-notary@1.0.0``.

``Notary.deserialize(header)`` then ``verify(values)`` checks a party's signature; ``sign`` /
``stash`` + ``sign`` create and rewrite them; ``node_sign`` / ``node_recover`` are the
node-to-node EIP-191 signatures over raw bodies. The Cython twin is used when built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocn_core import _ext
from ocn_core.signing import _notary_ref
from ocn_core.signing._codec import (
    MAX_FIELDS,
    MAX_HEADER_CHARS,
    MAX_JSON_BYTES,
    MAX_REWRITES,
)
from ocn_core.signing._crypto import get_address
from ocn_core.signing._model import Rewrite
from ocn_core.signing.errors import (
    BadSignatureValue,
    MalformedSignature,
    RequestModified,
    RewriteHashMismatch,
    RewriteInvalid,
    RewriteSignatoryMismatch,
    SignatoryMismatch,
    SignatureError,
    SignatureTooLarge,
    UnsignableValue,
    UnsupportedFieldPath,
)

if TYPE_CHECKING:  # checkers see the reference twin; runtime picks the compiled one if built
    from ocn_core.signing._notary_ref import (
        REQUEST_HEADERS,
        RESPONSE_HEADERS,
        Notary,
        address_of,
        node_recover,
        node_sign,
        parse_json,
        request_values,
        response_values,
        sign,
    )

    IMPLEMENTATION: str
else:
    _impl = _ext.load("signing", "ocn_core.signing._notary_cy", _notary_ref)
    IMPLEMENTATION = "ref" if _impl is _notary_ref else "cy"
    Notary = _impl.Notary
    sign = _impl.sign
    request_values = _impl.request_values
    response_values = _impl.response_values
    node_sign = _impl.node_sign
    node_recover = _impl.node_recover
    address_of = _impl.address_of
    parse_json = _impl.parse_json
    REQUEST_HEADERS = _impl.REQUEST_HEADERS
    RESPONSE_HEADERS = _impl.RESPONSE_HEADERS

__all__ = [
    "IMPLEMENTATION",
    "MAX_FIELDS",
    "MAX_HEADER_CHARS",
    "MAX_JSON_BYTES",
    "MAX_REWRITES",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "BadSignatureValue",
    "MalformedSignature",
    "Notary",
    "RequestModified",
    "Rewrite",
    "RewriteHashMismatch",
    "RewriteInvalid",
    "RewriteSignatoryMismatch",
    "SignatoryMismatch",
    "SignatureError",
    "SignatureTooLarge",
    "UnsignableValue",
    "UnsupportedFieldPath",
    "address_of",
    "get_address",
    "node_recover",
    "node_sign",
    "parse_json",
    "request_values",
    "response_values",
    "sign",
]
