"""The node's Ethereum identity: address of a secp256k1 private key."""

from __future__ import annotations

import coincurve
import sha3  # safe-pysha3: keccak_256


def address_of(private_key: bytes) -> str:
    """EIP-55 checksummed address of ``private_key``."""
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)[1:]
    raw = sha3.keccak_256(public).hexdigest()[-40:]
    digest = sha3.keccak_256(raw.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(raw))
