"""Byte layouts of the registry cache: the only module that knows them.

Every key starts with :data:`KEY_VERSION` and every value with :data:`VALUE_VERSION`; a new
layout gets new version bytes and a new :data:`LAYOUT` (a chain-fed cache then rebuilds).

* ``registry.parties``: ``V CC PID`` (ASCII, upper case) -> ``V operator(20)`` + utf-8
  ``address US operator US roles US modules_sender US modules_receiver`` (lists comma-joined,
  addresses EIP-55, ``address`` may be empty).
* ``registry.parties_by_address``: ``V address(20)`` -> the party key.
* ``registry.nodes``: ``V operator(20)`` -> ``V`` + utf-8 url.
* ``registry.services``: ``V provider(20)`` -> ``V`` + orjson ``[name, url, [permissions]]``.
* ``registry.agreements``: ``V user(20) provider(20)`` -> ``V active(1)``.
* ``registry.meta``: ASCII names -> ASCII integers / orjson.

``V`` is one version byte and ``US`` the unit separator ``\\x1f``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson
import sha3

from ocn_core.registry.errors import InvalidRegistryEntry
from ocn_core.registry.types import ROLES, Node, Party, Service

LAYOUT = b"1"
KEY_VERSION = b"\x01"
VALUE_VERSION = b"\x01"
SEP = "\x1f"
LIST_SEP = ","

DB_PARTIES = "registry.parties"
DB_PARTIES_BY_ADDRESS = "registry.parties_by_address"
DB_NODES = "registry.nodes"
DB_SERVICES = "registry.services"
DB_AGREEMENTS = "registry.agreements"
DB_META = "registry.meta"
ALL_DBS = (DB_PARTIES, DB_PARTIES_BY_ADDRESS, DB_NODES, DB_SERVICES, DB_AGREEMENTS, DB_META)
DATA_DBS = ALL_DBS[:-1]

META_LAYOUT = b"layout"
META_SOURCE = b"source"
META_CURSOR = b"cursor"
META_IDENTITY = b"identity"
META_STATUS = b"status"

_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}\Z")
_OCPI_ID = re.compile(r"[A-Z0-9]+\Z")
_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


# --- addresses ------------------------------------------------------------------------------


def address_bytes(address: str) -> bytes:
    """The 20 raw bytes of a ``0x`` hex address (any case)."""
    if not _HEX_ADDRESS.match(address):
        raise InvalidRegistryEntry(f"not an address: {address!r}")
    return bytes.fromhex(address[2:])


def checksum(address: str | bytes) -> str:
    """EIP-55 checksummed spelling of ``address`` (hex string or 20 raw bytes)."""
    raw = address if isinstance(address, bytes) else address_bytes(address)
    lower = raw.hex()
    digest = sha3.keccak_256(lower.encode()).hexdigest()
    return "0x" + "".join(ch.upper() if int(d, 16) >= 8 else ch for ch, d in zip(lower, digest))  # noqa: B905


def is_zero(address: str) -> bool:
    """True for ``""`` and the zero address (the contracts' "none")."""
    return not address or address_bytes(address) == bytes(20)


# --- keys -----------------------------------------------------------------------------------


def party_key(country_code: str, party_id: str) -> bytes | None:
    """Key of an OCPI id, upper-cased; ``None`` if it cannot be a valid id (so: not listed)."""
    if len(country_code) != 2 or len(party_id) != 3:
        return None
    try:
        return KEY_VERSION + (country_code + party_id).upper().encode("ascii")
    except UnicodeEncodeError:
        return None


def checked_party_key(country_code: str, party_id: str) -> bytes:
    """:func:`party_key` for writes: rejects ids that are not 2 + 3 ASCII letters/digits."""
    key = party_key(country_code, party_id)
    if key is None or not _OCPI_ID.match(key[1:].decode()):
        raise InvalidRegistryEntry(f"not an OCPI id: {country_code!r} {party_id!r}")
    return key


def split_party_key(key: bytes) -> tuple[str, str]:
    text = key[1:].decode("ascii")
    return text[:2], text[2:]


def address_key(address: str | bytes) -> bytes:
    return KEY_VERSION + (address if isinstance(address, bytes) else address_bytes(address))


def agreement_key(user: str, provider: str) -> bytes:
    return KEY_VERSION + address_bytes(user) + address_bytes(provider)


def agreement_prefix(user: str) -> bytes:
    return KEY_VERSION + address_bytes(user)


def split_agreement_key(key: bytes) -> tuple[str, str]:
    return checksum(key[1:21]), checksum(key[21:41])


# --- values ---------------------------------------------------------------------------------


def _names(values: Iterable[str], allowed: tuple[str, ...] | None, what: str) -> str:
    out = []
    for value in values:
        if not _NAME.match(value) or (allowed is not None and value not in allowed):
            raise InvalidRegistryEntry(f"bad {what}: {value!r}")
        out.append(value)
    return LIST_SEP.join(out)


def encode_party(
    address: str,
    roles: Iterable[str],
    modules_sender: Iterable[str],
    modules_receiver: Iterable[str],
    operator: str,
) -> bytes:
    """Party value; ``address`` may be ``""`` (no signing key), ``operator`` must be set."""
    op_raw = address_bytes(operator)
    fields = (
        checksum(address) if address else "",
        checksum(op_raw),
        _names(roles, ROLES, "role"),
        _names(modules_sender, None, "module"),
        _names(modules_receiver, None, "module"),
    )
    return VALUE_VERSION + op_raw + SEP.join(fields).encode()


def _tuple(text: str) -> tuple[str, ...]:
    return tuple(text.split(LIST_SEP)) if text else ()


def decode_party(key: bytes, value: bytes, node_url: str) -> Party:
    """The :class:`Party` stored under ``key`` (the pure decoder; the Cython twin mirrors it)."""
    text = key.decode("ascii")
    address, operator, roles, sender, receiver = value[21:].decode().split(SEP)
    return Party(
        text[1:3], text[3:6], address, _tuple(roles), _tuple(sender), _tuple(receiver),
        operator, node_url,
    )  # fmt: skip


def party_operator_key(value: bytes) -> bytes:
    """The ``registry.nodes`` key of a stored party's operator."""
    return KEY_VERSION + value[1:21]


def party_address(value: bytes) -> str:
    return value[21:].decode().split(SEP, 1)[0]


def encode_node(url: str) -> bytes:
    return VALUE_VERSION + url.encode()


def decode_node_url(value: bytes | None) -> str:
    return value[1:].decode() if value else ""


def decode_node(key: bytes, value: bytes) -> Node:
    return Node(checksum(key[1:21]), decode_node_url(value))


def encode_service(name: str, url: str, permissions: Iterable[int]) -> bytes:
    perms = [int(p) for p in permissions]
    return VALUE_VERSION + orjson.dumps([name, url, perms])


def decode_service(key: bytes, value: bytes, country_code: str = "", party_id: str = "") -> Service:
    name, url, perms = orjson.loads(value[1:])
    return Service(checksum(key[1:21]), name, url, tuple(perms), country_code, party_id)


def encode_agreement(active: bool) -> bytes:
    return VALUE_VERSION + (b"\x01" if active else b"\x00")


def decode_agreement(value: bytes) -> bool:
    return value[1:2] == b"\x01"


def encode_int(value: int) -> bytes:
    return str(value).encode()


def decode_int(value: bytes | None) -> int | None:
    return int(value) if value else None


def encode_json(value: object) -> bytes:
    return orjson.dumps(value)


def decode_json(value: bytes | None) -> object:
    return orjson.loads(value) if value else None
