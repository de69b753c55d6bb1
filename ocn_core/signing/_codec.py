"""The OCN-Signature wire format: base64( Brotli q4( JSON.stringify(notary) ) ), with caps.

Decoding refuses oversized headers, decompression bombs (output capped while inflating) and
absurd field/rewrite counts before any of it is walked.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

import brotli
import orjson

from ocn_core.errors import MalformedJson
from ocn_core.signing._jsvalue import js_stringify
from ocn_core.signing._model import Rewrite
from ocn_core.signing.errors import MalformedSignature, SignatureTooLarge

MAX_HEADER_CHARS = 4 << 20
MAX_JSON_BYTES = 16 << 20
MAX_FIELDS = 200_000
MAX_REWRITES = 64
MAX_REWRITTEN_FIELDS = 1024
BROTLI_QUALITY = 4

Decoded = tuple[list[str], str, str, str, list[Rewrite]]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(raw: bytes | str) -> Any:
    """JSON like ``JSON.parse`` (duplicate keys: last value, first position).

    Numbers stay Python int/float; the walk prints them as JavaScript would print the double
    ``JSON.parse`` makes of the same literal, so no literal text needs to be kept.
    Raises :class:`ocn_core.errors.MalformedJson`.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:  # orjson refuses integers beyond 64 bit; JavaScript accepts them
            return json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise MalformedJson(f"Malformed JSON: {exc}") from None


def inflate(header: object) -> bytes:
    """base64 -> Brotli -> bytes, capped at :data:`MAX_JSON_BYTES`."""
    if not isinstance(header, str):
        raise MalformedSignature("OCN-Signature must be a string.")
    if len(header) > MAX_HEADER_CHARS:
        raise SignatureTooLarge(f"OCN-Signature longer than {MAX_HEADER_CHARS} characters.")
    try:
        if len(header) % 4:
            header += "=" * (-len(header) % 4)
        compressed = binascii.a2b_base64(header, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise MalformedSignature("OCN-Signature is not valid base64.") from None
    try:
        if 0 < _last_block_size(compressed) <= MAX_JSON_BYTES:
            return brotli.decompress(compressed)  # type: ignore[no-any-return]
        decoder = brotli.Decompressor()
        data: bytes = decoder.process(compressed, output_buffer_limit=MAX_JSON_BYTES + 1)
    except brotli.error:
        raise MalformedSignature("OCN-Signature is not valid Brotli.") from None
    except TypeError:  # brotli < 1.2 has no output_buffer_limit: refuse rather than risk a bomb
        raise MalformedSignature("Multi-block Brotli needs brotli>=1.2 (capped).") from None
    if len(data) > MAX_JSON_BYTES:
        raise SignatureTooLarge(f"OCN-Signature inflates beyond {MAX_JSON_BYTES} bytes.")
    if not decoder.is_finished():
        raise MalformedSignature("OCN-Signature is not valid Brotli (truncated stream).")
    return data


def _last_block_size(stream: bytes) -> int:
    """Output size of a Brotli stream whose first meta-block is also its last, else -1.

    RFC 7932 §9.1/§9.2: WBITS, ISLAST, ISLASTEMPTY, MNIBBLES, MLEN-1. Such a stream inflates to
    exactly MLEN bytes (at most 16 MiB), so it can skip the incremental, capped decoder.
    """
    if len(stream) < 5:
        return -1
    bits = int.from_bytes(stream[:5], "little")
    if not bits & 1:
        pos = 1
    elif bits & 0b1110:
        pos = 4
    else:
        pos = 7
    if not (bits >> pos) & 1 or (bits >> (pos + 1)) & 1:  # not ISLAST, or ISLASTEMPTY
        return -1
    nibbles = ((bits >> (pos + 2)) & 3) + 4
    if nibbles == 7:  # metadata block
        return -1
    return ((bits >> (pos + 4)) & ((1 << (4 * nibbles)) - 1)) + 1


def load(data: bytes) -> Any:
    """Parse the inflated notary JSON."""
    try:
        return parse_json(data)
    except MalformedJson:
        raise MalformedSignature("OCN-Signature is not valid JSON.") from None


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise MalformedSignature(f"OCN-Signature {where}'{key}' must be a string.")
    return value


def validate(doc: object) -> Decoded:
    """Check types and counts of a parsed notary document."""
    if not isinstance(doc, dict):
        raise MalformedSignature("OCN-Signature JSON must be an object.")
    fields = doc.get("fields")
    if not isinstance(fields, list):
        raise MalformedSignature("OCN-Signature 'fields' must be an array.")
    if len(fields) > MAX_FIELDS:
        raise SignatureTooLarge(f"OCN-Signature has more than {MAX_FIELDS} fields.")
    for f in fields:
        if not isinstance(f, str):
            raise MalformedSignature("OCN-Signature 'fields' must hold strings.")
    hash_ = _string(doc, "hash", "")
    rsv = _string(doc, "rsv", "")
    signatory = _string(doc, "signatory", "")
    raw = doc.get("rewrites")
    rewrites: list[Rewrite] = []
    if raw:  # the reference treats any falsy value as "no rewrites"
        if not isinstance(raw, list):
            raise MalformedSignature("OCN-Signature 'rewrites' must be an array.")
        if len(raw) > MAX_REWRITES:
            raise SignatureTooLarge(f"OCN-Signature has more than {MAX_REWRITES} rewrites.")
        for i, r in enumerate(raw):
            where = f"rewrite {i} "
            if not isinstance(r, dict):
                raise MalformedSignature(f"OCN-Signature {where}must be an object.")
            rf = r.get("rewrittenFields")
            if not isinstance(rf, dict):
                raise MalformedSignature(
                    f"OCN-Signature {where}'rewrittenFields' must be an object."
                )
            if len(rf) > MAX_REWRITTEN_FIELDS:
                raise SignatureTooLarge(f"OCN-Signature {where}rewrites too many fields.")
            rewrites.append(
                Rewrite(
                    rf,
                    _string(r, "hash", where),
                    _string(r, "rsv", where),
                    _string(r, "signatory", where),
                )
            )
    return fields, hash_, rsv, signatory, rewrites


def decode(header: object) -> Decoded:
    """Header -> validated (fields, hash, rsv, signatory, rewrites)."""
    return validate(load(inflate(header)))


def encode(doc: dict[str, Any]) -> str:
    """Notary document (reference key order) -> header value."""
    text = js_stringify(doc).encode("utf-8")
    return binascii.b2a_base64(
        brotli.compress(text, quality=BROTLI_QUALITY), newline=False
    ).decode()
