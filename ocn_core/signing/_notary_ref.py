"""Pure-Python OCN Notary: the readable twin of ``_notary_cy`` (same API, same errors).

Semantics are those of ``@shareandcharge/ocn-notary@1.0.0``: ``sign`` walks the values depth-first
in JavaScript key order, skipping null/undefined/"" and empty containers; ``verify`` rebuilds the
message from the lower-cased ``fields`` paths, checks the hash, the signer and then every rewrite,
newest first.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ocn_core.signing import _codec, _crypto
from ocn_core.signing._codec import parse_json
from ocn_core.signing._crypto import address_of, node_recover, node_sign
from ocn_core.signing._jsonpath import MISSING, assign, cached_path, lookup
from ocn_core.signing._jsvalue import js_keys, js_number, js_text
from ocn_core.signing._model import Rewrite
from ocn_core.signing.errors import (
    BadSignatureValue,
    RequestModified,
    RewriteHashMismatch,
    RewriteSignatoryMismatch,
    SignatoryMismatch,
    UnsignableValue,
    UnsupportedFieldPath,
)

REQUEST_HEADERS = (
    "x-correlation-id",
    "ocpi-from-country-code",
    "ocpi-from-party-id",
    "ocpi-to-country-code",
    "ocpi-to-party-id",
)
RESPONSE_HEADERS = ("x-limit", "x-total-count", "link", "location")


def walk(path: str, value: object, fields: list[str], parts: list[str]) -> None:
    """Append each signable leaf below ``value``: its path to ``fields``, its text to ``parts``."""
    if value is None or value == "":
        return
    if isinstance(value, list):
        for i, sub in enumerate(value):
            walk(f"{path}[{i}]", sub, fields, parts)
    elif isinstance(value, dict):
        for key in js_keys(value):
            if not isinstance(key, str):
                raise UnsignableValue(f"Object key {key!r} at {path} is not a string.")
            walk(f"{path}['{key}']", value[key], fields, parts)
    elif isinstance(value, str):
        fields.append(path)
        parts.append(value)
    elif isinstance(value, bool):
        fields.append(path)
        parts.append("true" if value else "false")
    elif isinstance(value, int | float):
        fields.append(path)
        parts.append(js_number(value))
    else:
        raise UnsignableValue(f"Value at {path} is not JSON: {type(value).__name__}.")


def _utf8(message: str) -> bytes:
    try:
        return message.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsignableValue("Message holds a lone surrogate (not valid UTF-8).") from None


def message_of(fields: list[str], values: object) -> str:
    """Concatenate ``String([match])`` of every lower-cased field path (missing -> "")."""
    parts = []
    for field in fields:
        found = lookup(values, cached_path(field.lower()))
        if found is not MISSING:
            try:
                parts.append(js_text(found))
            except (TypeError, ValueError) as exc:
                raise UnsignableValue(f"Value at {field} cannot be a string: {exc}") from None
    return "".join(parts)


class Notary:
    """An OCN-Signature: signed ``fields``, ``hash``, ``rsv``, ``signatory`` and ``rewrites``."""

    __slots__ = ("fields", "hash", "rewrites", "rsv", "signatory")

    def __init__(
        self,
        fields: list[str] | None = None,
        hash: str = "",
        rsv: str = "",
        signatory: str = "",
        rewrites: list[Rewrite] | None = None,
    ) -> None:
        self.fields: list[str] = [] if fields is None else fields
        self.hash = hash
        self.rsv = rsv
        self.signatory = signatory
        self.rewrites: list[Rewrite] = [] if rewrites is None else rewrites

    @classmethod
    def deserialize(cls, header: str) -> Notary:
        """Decode an OCN-Signature header; raises the typed malformed/too-large errors."""
        return cls(*_codec.decode(header))

    def to_json(self) -> dict[str, Any]:
        """The document the reference serialises, in its key order."""
        return {
            "fields": self.fields,
            "hash": self.hash,
            "rsv": self.rsv,
            "signatory": self.signatory,
            "rewrites": [r.to_json() for r in self.rewrites],
        }

    def serialize(self) -> str:
        """base64(Brotli q4(compact JSON)), byte-identical to the reference."""
        return _codec.encode(self.to_json())

    def sign(self, values: Mapping[str, Any], private_key: bytes | str) -> Notary:
        """(Re)sign ``values``: sets fields, hash, rsv and signatory; keeps rewrites."""
        fields: list[str] = []
        parts: list[str] = []
        try:
            walk("$", values, fields, parts)
        except RecursionError:
            raise UnsignableValue("Values are nested too deeply to sign.") from None
        signer = _crypto.signer(private_key)
        self.fields = fields
        self.hash = _crypto.keccak_hex(_utf8("".join(parts)))
        self.rsv = "0x" + signer.personal_sign(self.hash.encode()).hex()
        self.signatory = signer.address
        return self

    def stash(self, rewritten_fields: Mapping[str, Any]) -> None:
        """Push the current signature with the old values of the paths about to change.

        The signatory is stored checksummed (the reference compares rewrite signers strictly).
        """
        for path in rewritten_fields:
            cached_path(path)
        try:
            signatory = _crypto.get_address(self.signatory)
        except BadSignatureValue:
            signatory = self.signatory
        self.rewrites.append(Rewrite(dict(rewritten_fields), self.hash, self.rsv, signatory))

    def verify(self, values: Mapping[str, Any]) -> None:
        """Raise unless ``values`` carry this signature and every rewrite verifies."""
        if _crypto.keccak_hex(_utf8(message_of(self.fields, values))) != self.hash:
            raise RequestModified("Request has been modified.")
        signer = _crypto.recover(
            _crypto.personal_digest(self.hash.encode()), _crypto.split_rsv(self.rsv)
        )
        if signer != _crypto.address_bytes(self.signatory):
            raise SignatoryMismatch("Signatories do not match.")
        current: Any = values
        for index, rewrite in enumerate(reversed(self.rewrites)):
            current = _restore(current, rewrite.rewritten_fields)
            if _crypto.keccak_hex(_utf8(message_of(self.fields, current))) != rewrite.hash:
                raise RewriteHashMismatch(
                    f"Rewrite {index}: Rewritten request hash does not match.", index
                )
            if _crypto.verify_message(rewrite.hash.encode(), rewrite.rsv) != rewrite.signatory:
                raise RewriteSignatoryMismatch(
                    f"Rewrite {index}: Rewritten signatory incorrect.", index
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notary) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Notary(signatory={self.signatory!r}, fields={len(self.fields)},"
            f" rewrites={len(self.rewrites)})"
        )


def _restore(values: Any, rewritten: dict[str, Any]) -> Any:
    """A copy of ``values`` with every rewritten path set back to its stashed value."""
    if not isinstance(values, dict):
        raise UnsupportedFieldPath("Values to verify must be an object.")
    try:
        restored = copy.deepcopy(values)
    except RecursionError:
        raise UnsignableValue("Values are nested too deeply to verify rewrites.") from None
    for path in js_keys(rewritten):
        assign(restored, cached_path(path), copy.deepcopy(rewritten[path]))
    return restored


def sign(values: Mapping[str, Any], private_key: bytes | str) -> Notary:
    """A fresh signature over ``values``."""
    return Notary().sign(values, private_key)


def _pick(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """``names`` (lower case) found in ``headers`` by any case, the last one counting."""
    picked = {n: headers[n] for n in names if n in headers}
    if len(picked) == len(headers):  # only signed headers, already in lower case
        return picked
    lower = {k.lower(): v for k, v in headers.items()}
    return {n: lower[n] for n in names if n in lower}


def request_values(
    headers: Mapping[str, str], params: Mapping[str, str] | None, body: object | None
) -> dict[str, Any]:
    """ValuesToSign of a request: the five OCPI routing headers (lower-case), params, body."""
    values: dict[str, Any] = {"headers": _pick(headers, REQUEST_HEADERS)}
    if params is not None:
        values["params"] = dict(params)
    if body is not None:
        values["body"] = body
    return values


def response_values(headers: Mapping[str, str], body: object) -> dict[str, Any]:
    """ValuesToSign of a response: the 4 paging/location headers; body without ocn_signature."""
    if isinstance(body, dict) and "ocn_signature" in body:
        body = {k: v for k, v in body.items() if k != "ocn_signature"}
    return {"headers": _pick(headers, RESPONSE_HEADERS), "body": body}


__all__ = [
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "Notary",
    "Rewrite",
    "address_of",
    "node_recover",
    "node_sign",
    "parse_json",
    "request_values",
    "response_values",
    "sign",
]
