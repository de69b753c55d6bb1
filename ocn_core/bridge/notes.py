"""What one bridged message changed and lost, and the refusal of what cannot be bridged."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocn_core.errors import InvalidRequest


class Refused(InvalidRequest):
    """A message the node cannot translate without inventing data (HTTP 400 / OCPI 2001)."""

    reason = "bridge_refused"


@dataclass(slots=True)
class Notes:
    """Translations and losses of one message, for the log line and the counters."""

    direction: str  # e.g. "2.2.1>2.3.0"; "remote>2.3.0": the source version is not known here
    source_known: bool = True  # False: translate by shape (what is in the target layout stays)
    changes: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)

    def translated(self, path: str) -> None:
        self.changes.append(path)

    def lost(self, path: str, what: str) -> None:
        self.losses.append(f"{path}: {what}")
