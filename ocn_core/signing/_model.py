"""A stashed rewrite: the old values of rewritten paths and the signature they carried."""

from __future__ import annotations

from typing import Any


class Rewrite:
    """One ``rewrites`` entry; ``rewritten_fields`` maps JSON path -> previous value."""

    __slots__ = ("hash", "rewritten_fields", "rsv", "signatory")

    def __init__(
        self, rewritten_fields: dict[str, Any], hash: str, rsv: str, signatory: str
    ) -> None:
        self.rewritten_fields = rewritten_fields
        self.hash = hash
        self.rsv = rsv
        self.signatory = signatory

    def to_json(self) -> dict[str, Any]:
        """The reference's key order: rewrittenFields, hash, rsv, signatory."""
        return {
            "rewrittenFields": self.rewritten_fields,
            "hash": self.hash,
            "rsv": self.rsv,
            "signatory": self.signatory,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rewrite) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Rewrite({self.rewritten_fields!r}, {self.hash!r}, {self.rsv!r}, {self.signatory!r})"
        )
