"""secp256k1 + keccak for the notary: EIP-191 personal-sign, recovery, EIP-55 addresses.

Curve maths is coincurve's (libsecp256k1); the recovery hot path calls its bundled library
through cffi directly to skip the object wrappers. Semantics follow ethers v4: ``v`` other than
27/28 becomes ``27 + v % 2``; addresses are checksummed; mixed-case addresses must carry a
valid checksum.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import sha3
from coincurve import PrivateKey, PublicKey

from ocn_core.signing.errors import BadSignatureValue

keccak_256: Any = sha3.keccak_256
_PREFIX = b"\x19Ethereum Signed Message:\n"
_HEX_ADDRESS = re.compile(r"(0x)?[0-9a-fA-F]{40}")
_MIXED_CASE = re.compile(r"([A-F].*[a-f])|([a-f].*[A-F])")
_RSV = re.compile(r"0x[0-9a-fA-F]{130}")

try:  # coincurve internals: same library, fewer Python objects per call
    from coincurve._libsecp256k1 import ffi as _ffi
    from coincurve._libsecp256k1 import lib as _lib
    from coincurve.context import GLOBAL_CONTEXT as _GLOBAL_CONTEXT

    _CTX: Any = _GLOBAL_CONTEXT.ctx
    _UNCOMPRESSED: int = _lib.SECP256K1_EC_UNCOMPRESSED
    FAST_RECOVER = True
except (ImportError, AttributeError):  # pragma: no cover - other coincurve layouts
    FAST_RECOVER = False


class _Buffers(threading.local):
    """Per-thread cffi scratch space (the library calls release the GIL)."""

    def __init__(self) -> None:
        self.rsig = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
        self.pub = _ffi.new("secp256k1_pubkey *")
        self.out = _ffi.new("unsigned char[65]")
        self.outlen = _ffi.new("size_t *")
        self.view = _ffi.buffer(self.out, 65)


_BUFFERS = _Buffers() if FAST_RECOVER else None


def keccak_hex(data: bytes) -> str:
    """``ethers.utils.keccak256``: ``0x`` + 64 lower-case hex digits."""
    return "0x" + str(keccak_256(data).hexdigest())


def personal_digest(message: bytes) -> bytes:
    """EIP-191 digest: keccak("\\x19Ethereum Signed Message:\\n" + len + message)."""
    digest: bytes = keccak_256(_PREFIX + str(len(message)).encode() + message).digest()
    return digest


def checksum(address20: bytes) -> str:
    """EIP-55 checksummed ``0x`` address of 20 raw bytes."""
    low = address20.hex()
    nibbles = keccak_256(low.encode()).hexdigest()
    return "0x" + "".join(
        c.upper() if n in "89abcdef" else c for c, n in zip(low, nibbles[:40], strict=True)
    )


_ADDRESS_CACHE: dict[str, bytes] = {}


def address_bytes(address: object) -> bytes:
    """``ethers.utils.getAddress`` as 20 bytes (cached: signatories repeat); BadSignatureValue."""
    if isinstance(address, str):
        hit = _ADDRESS_CACHE.get(address)
        if hit is not None:
            return hit
    if not isinstance(address, str) or not _HEX_ADDRESS.fullmatch(address):
        raise BadSignatureValue(f"Invalid address {str(address)[:60]!r}.")
    full = address if address.startswith("0x") else "0x" + address
    raw = bytes.fromhex(full[2:])
    if _MIXED_CASE.search(full) and checksum(raw) != full:
        raise BadSignatureValue(f"Bad address checksum {address!r}.")
    if len(_ADDRESS_CACHE) >= 4096:
        _ADDRESS_CACHE.clear()
    _ADDRESS_CACHE[address] = raw
    return raw


def get_address(address: object) -> str:
    """``ethers.utils.getAddress``: the checksummed form; BadSignatureValue when invalid."""
    return checksum(address_bytes(address))


def split_rsv(signature: object, *, require_0x: bool = True) -> bytes:
    """65 bytes r||s||recid from ``0x`` + 130 hex (ethers v4 ``splitSignature``)."""
    if not isinstance(signature, str):
        raise BadSignatureValue("Signature must be a hex string.")
    text = signature if signature.startswith("0x") or require_0x else "0x" + signature
    if not _RSV.fullmatch(text):
        raise BadSignatureValue(f"Invalid signature {signature[:20]!r}...: want 0x + 65 bytes hex.")
    raw = bytes.fromhex(text[2:])
    v = raw[64]
    recid = v - 27 if v in (27, 28) else v % 2
    return raw[:64] + bytes((recid,))


def recover(digest: bytes, rs_recid: bytes) -> bytes:
    """The 20-byte address that signed ``digest``; BadSignatureValue if none."""
    b = _BUFFERS
    if b is not None:
        if not _lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
            _CTX, b.rsig, rs_recid[:64], rs_recid[64]
        ) or not _lib.secp256k1_ecdsa_recover(_CTX, b.pub, b.rsig, digest):
            raise BadSignatureValue("Signature does not recover to a public key.")
        b.outlen[0] = 65
        _lib.secp256k1_ec_pubkey_serialize(_CTX, b.out, b.outlen, b.pub, _UNCOMPRESSED)
        return keccak_256(b.view[1:]).digest()[12:]  # type: ignore[no-any-return]
    try:
        pub = PublicKey.from_signature_and_message(rs_recid, digest, hasher=None)
    except Exception as exc:
        raise BadSignatureValue("Signature does not recover to a public key.") from exc
    return keccak_256(pub.format(compressed=False)[1:]).digest()[12:]  # type: ignore[no-any-return]


def verify_message(message: bytes, signature: object) -> str:
    """``ethers.utils.verifyMessage``: checksummed signer of an EIP-191 ``message``."""
    return checksum(recover(personal_digest(message), split_rsv(signature)))


class Signer:
    """A private key with its checksummed address (deterministic RFC 6979, low-s, like ethers)."""

    __slots__ = ("address", "key")

    def __init__(self, private_key: bytes | str) -> None:
        if isinstance(private_key, str):
            private_key = bytes.fromhex(private_key.removeprefix("0x"))
        if len(private_key) != 32:
            raise ValueError("private key must be 32 bytes")
        self.key = PrivateKey(private_key)
        self.address = checksum(
            keccak_256(self.key.public_key.format(compressed=False)[1:]).digest()[12:]
        )

    def personal_sign(self, message: bytes) -> bytes:
        """r||s||v (v = 27/28) over the EIP-191 digest of ``message``."""
        sig = self.key.sign_recoverable(personal_digest(message), hasher=None)
        return sig[:64] + bytes((27 + sig[64],))


_SIGNERS: dict[bytes | str, Signer] = {}


def signer(private_key: bytes | str) -> Signer:
    """A cached :class:`Signer` (a node signs with one or two keys)."""
    s = _SIGNERS.get(private_key)
    if s is None:
        s = Signer(private_key)
        if len(_SIGNERS) >= 16:
            _SIGNERS.clear()
        _SIGNERS[private_key] = s
    return s


def node_sign(body: bytes, private_key: bytes | str) -> str:
    """Node-to-node signature: EIP-191 over raw ``body``; r||s||v hex without ``0x``."""
    return signer(private_key).personal_sign(body).hex()


def node_recover(body: bytes, signature: str) -> str:
    """Checksummed signer of a node-to-node signature (with or without ``0x``)."""
    return checksum(recover(personal_digest(body), split_rsv(signature, require_0x=False)))


def address_of(private_key: bytes | str) -> str:
    """Checksummed address of a private key."""
    return signer(private_key).address
