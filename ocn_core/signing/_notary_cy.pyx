# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython OCN Notary: the hot path (header decode, field lookup, message glue) of ``_notary_ref``.

Same API, results and errors as the pure twin; the crypto and the wire codec are shared.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject

import copy

import orjson

from ocn_core.signing import _codec, _crypto
from ocn_core.signing._codec import parse_json
from ocn_core.signing._crypto import address_of, node_recover, node_sign
from ocn_core.signing._jsonpath import assign, parse_path
from ocn_core.signing._jsvalue import js_keys, js_number
from ocn_core.signing._model import Rewrite
from ocn_core.signing.errors import (
    BadSignatureValue,
    MalformedSignature,
    RequestModified,
    RewriteHashMismatch,
    RewriteSignatoryMismatch,
    SignatoryMismatch,
    SignatureTooLarge,
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

cdef object _keccak = _crypto.keccak_256
cdef object _recover = _crypto.recover
cdef object _personal_digest = _crypto.personal_digest
cdef object _address_bytes = _crypto.address_bytes
cdef object _inflate = _codec.inflate
cdef object _loads = orjson.loads
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef Py_ssize_t MAX_FIELDS = _codec.MAX_FIELDS
cdef Py_ssize_t MAX_REWRITES = _codec.MAX_REWRITES
cdef Py_ssize_t MAX_REWRITTEN_FIELDS = _codec.MAX_REWRITTEN_FIELDS
cdef object _MISSING = object()
cdef long long _SAFE_INT = 1LL << 53

# original field text -> parsed segments of its lower-cased text (fields repeat across messages)
cdef dict _PATHS = {}
cdef Py_ssize_t _PATHS_MAX = 65536


cdef tuple _path_of(str field):
    cdef PyObject* hit = PyDict_GetItem(_PATHS, field)
    if hit != NULL:
        return <tuple>hit
    cdef tuple path = parse_path(field.lower())
    if len(_PATHS) >= _PATHS_MAX:
        _PATHS.clear()
    _PATHS[field] = path
    return path


cdef Py_ssize_t _array_index(str key, Py_ssize_t length):
    cdef Py_ssize_t n = len(key), i, v = 0
    cdef Py_UCS4 c
    if n == 0 or n > 10 or (n > 1 and <Py_UCS4>key[0] == 48):
        return -1
    for i in range(n):
        c = key[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (<Py_ssize_t>c - 48)
    return v if v < length else -1


cdef object _step(object node, object seg):
    cdef PyObject* hit
    cdef Py_ssize_t i
    if type(seg) is str:
        if type(node) is dict:
            hit = PyDict_GetItem(<dict>node, seg)
            return <object>hit if hit != NULL else _MISSING
        if isinstance(node, dict):
            return node.get(seg, _MISSING)
        if isinstance(node, list):
            i = _array_index(<str>seg, len(node))
            if i >= 0:
                return node[i]
            if seg == "length":
                return len(node)
        return _MISSING
    i = <Py_ssize_t>seg if -(1 << 62) < seg < (1 << 62) else -1
    if isinstance(node, list) and 0 <= i < len(node):
        return node[i]
    return _MISSING


cdef str _text(object value):
    """``String([value])``: the text one field adds to the message."""
    cdef type t = type(value)
    if t is str:
        return <str>value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is int:
        if -_SAFE_INT < value < _SAFE_INT:
            return str(value)
        return js_number(value)
    if t is float:
        return js_number(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) or isinstance(value, float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join([_text(v) for v in value])
    if isinstance(value, dict):
        if "toString" in value:  # an own, non-callable toString: JavaScript's String() throws
            raise ValueError("Cannot convert object to primitive value")
        return "[object Object]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


cdef str _message(list fields, object values):
    cdef list parts = []
    cdef Py_ssize_t k, n = PyList_GET_SIZE(fields)
    cdef object node
    cdef tuple path
    cdef PyObject* hit
    for k in range(n):
        path = _path_of(<str><object>PyList_GET_ITEM(fields, k))
        node = values
        for seg in path:
            if type(node) is dict and type(seg) is str:
                hit = PyDict_GetItem(<dict>node, seg)
                if hit == NULL:
                    node = _MISSING
                    break
                node = <object>hit
            else:
                node = _step(node, seg)
                if node is _MISSING:
                    break
        if node is not _MISSING:
            try:
                parts.append(_text(node))
            except (TypeError, ValueError) as exc:
                raise UnsignableValue(f"Value at {fields[k]} cannot be a string: {exc}") from None
    return "".join(parts)


cdef bytes _utf8(str message):
    try:
        return message.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsignableValue("Message holds a lone surrogate (not valid UTF-8).") from None


cdef bint _hash_matches(str message, str expected):
    return len(expected) == 66 and expected.startswith("0x") and (
        _keccak(_utf8(message)).hexdigest() == expected[2:]
    )


cdef bytes _split_rsv(object rsv):
    cdef bytes raw
    cdef int v
    if type(rsv) is not str or len(<str>rsv) != 132 or not (<str>rsv).startswith("0x"):
        raise BadSignatureValue(f"Invalid signature {str(rsv)[:20]!r}...: want 0x + 65 bytes hex.")
    try:
        raw = bytes.fromhex((<str>rsv)[2:])
    except ValueError:
        raw = b""
    if len(raw) != 65 or not (<str>rsv).isascii():
        raise BadSignatureValue(f"Invalid signature {rsv[:20]!r}...: want 0x + 65 bytes hex.")
    v = raw[64]
    return raw[:64] + bytes((v - 27 if v == 27 or v == 28 else v % 2,))


cdef str _string(dict obj, str key, str where):
    value = obj.get(key)
    if type(value) is not str:
        raise MalformedSignature(f"OCN-Signature {where}'{key}' must be a string.")
    return <str>value


cdef void _walk(str path, object value, list fields, list parts) except *:
    cdef type t = type(value)
    if value is None:
        return
    if t is str:
        if len(<str>value):
            fields.append(path)
            parts.append(value)
        return
    if t is dict or isinstance(value, dict):
        for key in js_keys(value):
            if not isinstance(key, str):
                raise UnsignableValue(f"Object key {key!r} at {path} is not a string.")
            _walk(f"{path}['{key}']", value[key], fields, parts)
    elif t is list or isinstance(value, list):
        for i, sub in enumerate(value):
            _walk(f"{path}[{i}]", sub, fields, parts)
    elif isinstance(value, str):
        if value != "":
            fields.append(path)
            parts.append(str(value))
    elif value is True or value is False:
        fields.append(path)
        parts.append("true" if value else "false")
    elif isinstance(value, bool):
        fields.append(path)
        parts.append("true" if value else "false")
    elif isinstance(value, (int, float)):
        fields.append(path)
        parts.append(_text(value))
    else:
        raise UnsignableValue(f"Value at {path} is not JSON: {type(value).__name__}.")


# The fields array is most of a header and repeats across messages (same sender, same shape):
# its exact JSON text -> the parsed field strings, whose cached str hashes make path lookup cheap.
cdef dict _FIELD_SETS = {}
cdef Py_ssize_t _FIELD_SETS_MAX = 1024
cdef bytes _FIELDS_OPEN = b'{"fields":['
cdef bytes _FIELDS_CLOSE = b'],"hash":"'


cdef tuple _split_fields(bytes data):
    """(fields, rest-of-document) when ``data`` is ``{"fields":[...],"hash":...}``, else None.

    ``],"hash":"`` cannot occur inside a JSON string (its quote is unescaped), so the first one
    ends the array; the two halves parse to exactly what the whole document parses to, unless
    the rest repeats "fields" (then the caller parses the whole).
    """
    cdef Py_ssize_t end
    cdef tuple fields
    if not data.startswith(_FIELDS_OPEN):
        return None
    end = data.find(_FIELDS_CLOSE, 10)
    if end < 0:
        return None
    span = data[10:end + 1]
    hit = PyDict_GetItem(_FIELD_SETS, span)
    if hit != NULL:
        fields = <tuple>hit
    else:
        try:
            parsed = _loads(span)
        except _JSONDecodeError:
            return None
        if type(parsed) is not list or len(parsed) > MAX_FIELDS:
            return None
        for f in parsed:
            if type(f) is not str:
                return None
        fields = tuple(parsed)
        if len(_FIELD_SETS) >= _FIELD_SETS_MAX:
            _FIELD_SETS.clear()
        _FIELD_SETS[span] = fields
    try:
        rest = _loads(b"{" + data[end + 2:])
    except _JSONDecodeError:
        return None
    if type(rest) is not dict or "fields" in rest:
        return None
    return list(fields), rest


cdef list _check_fields(object raw_fields):
    cdef list fields
    cdef Py_ssize_t k, n
    if type(raw_fields) is not list:
        raise MalformedSignature("OCN-Signature 'fields' must be an array.")
    fields = <list>raw_fields
    n = PyList_GET_SIZE(fields)
    if n > MAX_FIELDS:
        raise SignatureTooLarge(f"OCN-Signature has more than {MAX_FIELDS} fields.")
    for k in range(n):
        if type(<object>PyList_GET_ITEM(fields, k)) is not str:
            raise MalformedSignature("OCN-Signature 'fields' must hold strings.")
    return fields


cdef tuple _validate(object doc, list fields=None):
    cdef list rewrites = []
    if type(doc) is not dict:
        raise MalformedSignature("OCN-Signature JSON must be an object.")
    if fields is None:
        fields = _check_fields((<dict>doc).get("fields"))
    hash_ = _string(doc, "hash", "")
    rsv = _string(doc, "rsv", "")
    signatory = _string(doc, "signatory", "")
    raw = (<dict>doc).get("rewrites")
    if raw:
        if type(raw) is not list:
            raise MalformedSignature("OCN-Signature 'rewrites' must be an array.")
        if len(raw) > MAX_REWRITES:
            raise SignatureTooLarge(f"OCN-Signature has more than {MAX_REWRITES} rewrites.")
        for i, r in enumerate(raw):
            where = f"rewrite {i} "
            if type(r) is not dict:
                raise MalformedSignature(f"OCN-Signature {where}must be an object.")
            rf = (<dict>r).get("rewrittenFields")
            if type(rf) is not dict:
                raise MalformedSignature(f"OCN-Signature {where}'rewrittenFields' must be an object.")
            if len(rf) > MAX_REWRITTEN_FIELDS:
                raise SignatureTooLarge(f"OCN-Signature {where}rewrites too many fields.")
            rewrites.append(
                Rewrite(rf, _string(r, "hash", where), _string(r, "rsv", where), _string(r, "signatory", where))
            )
    return fields, hash_, rsv, signatory, rewrites


cdef object _restore(object values, dict rewritten):
    if not isinstance(values, dict):
        raise UnsupportedFieldPath("Values to verify must be an object.")
    try:
        restored = copy.deepcopy(values)
    except RecursionError:
        raise UnsignableValue("Values are nested too deeply to verify rewrites.") from None
    for path in js_keys(rewritten):
        assign(restored, parse_path(path), copy.deepcopy(rewritten[path]))
    return restored


cdef class Notary:
    """An OCN-Signature: signed ``fields``, ``hash``, ``rsv``, ``signatory`` and ``rewrites``."""

    cdef public list fields
    cdef public str hash
    cdef public str rsv
    cdef public str signatory
    cdef public list rewrites

    def __init__(self, fields=None, hash="", rsv="", signatory="", rewrites=None):
        self.fields = [] if fields is None else fields
        self.hash = hash
        self.rsv = rsv
        self.signatory = signatory
        self.rewrites = [] if rewrites is None else rewrites

    @classmethod
    def deserialize(cls, header):
        """Decode an OCN-Signature header; raises the typed malformed/too-large errors."""
        data = _inflate(header)
        split = _split_fields(data)
        if split is not None:
            fields, hash_, rsv, signatory, rewrites = _validate(split[1], split[0])
        else:
            try:
                doc = _loads(data)
            except _JSONDecodeError:
                doc = _codec.load(data)
            fields, hash_, rsv, signatory, rewrites = _validate(doc)
        cdef Notary n = Notary.__new__(cls)
        n.fields = fields
        n.hash = hash_
        n.rsv = rsv
        n.signatory = signatory
        n.rewrites = rewrites
        return n

    def to_json(self):
        """The document the reference serialises, in its key order."""
        return {
            "fields": self.fields,
            "hash": self.hash,
            "rsv": self.rsv,
            "signatory": self.signatory,
            "rewrites": [r.to_json() for r in self.rewrites],
        }

    def serialize(self):
        """base64(Brotli q4(compact JSON)), byte-identical to the reference."""
        return _codec.encode(self.to_json())

    def sign(self, values, private_key):
        """(Re)sign ``values``: sets fields, hash, rsv and signatory; keeps rewrites."""
        cdef list fields = [], parts = []
        try:
            _walk("$", values, fields, parts)
        except RecursionError:
            raise UnsignableValue("Values are nested too deeply to sign.") from None
        signer = _crypto.signer(private_key)
        self.fields = fields
        self.hash = "0x" + _keccak(_utf8("".join(parts))).hexdigest()
        self.rsv = "0x" + signer.personal_sign(self.hash.encode()).hex()
        self.signatory = signer.address
        return self

    def stash(self, rewritten_fields):
        """Push the current signature with the old values of the paths about to change.

        The signatory is stored checksummed (the reference compares rewrite signers strictly).
        """
        for path in rewritten_fields:
            parse_path(path)
        try:
            signatory = _crypto.get_address(self.signatory)
        except BadSignatureValue:
            signatory = self.signatory
        self.rewrites.append(Rewrite(dict(rewritten_fields), self.hash, self.rsv, signatory))

    def verify(self, values):
        """Raise unless ``values`` carry this signature and every rewrite verifies."""
        if not _hash_matches(_message(self.fields, values), self.hash):
            raise RequestModified("Request has been modified.")
        signer = _recover(_personal_digest(self.hash.encode()), _split_rsv(self.rsv))
        if signer != _address_bytes(self.signatory):
            raise SignatoryMismatch("Signatories do not match.")
        if not self.rewrites:
            return
        current = values
        for index, rewrite in enumerate(reversed(self.rewrites)):
            current = _restore(current, rewrite.rewritten_fields)
            if not _hash_matches(_message(self.fields, current), rewrite.hash):
                raise RewriteHashMismatch(
                    f"Rewrite {index}: Rewritten request hash does not match.", index
                )
            if _crypto.verify_message(rewrite.hash.encode(), rewrite.rsv) != rewrite.signatory:
                raise RewriteSignatoryMismatch(
                    f"Rewrite {index}: Rewritten signatory incorrect.", index
                )

    def __eq__(self, other):
        return isinstance(other, Notary) and self.to_json() == other.to_json()

    __hash__ = None

    def __repr__(self):
        return f"Notary(signatory={self.signatory!r}, fields={len(self.fields)}, rewrites={len(self.rewrites)})"


def sign(values, private_key):
    """A fresh signature over ``values``."""
    return Notary().sign(values, private_key)


cdef dict _pick(object headers, tuple names):
    cdef dict picked = {n: headers[n] for n in names if n in headers}
    if len(picked) == len(headers):  # only signed headers, already in lower case
        return picked
    cdef dict lower = {k.lower(): v for k, v in headers.items()}
    return {n: lower[n] for n in names if n in lower}


def request_values(headers, params, body):
    """ValuesToSign of a request: the five OCPI routing headers (lower-case), params, body."""
    cdef dict values = {"headers": _pick(headers, REQUEST_HEADERS)}
    if params is not None:
        values["params"] = dict(params)
    if body is not None:
        values["body"] = body
    return values


def response_values(headers, body):
    """ValuesToSign of a response: x-limit, x-total-count, link, location; body minus ocn_signature."""
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
