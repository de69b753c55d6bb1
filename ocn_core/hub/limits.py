"""Per-partner limits (issue 13.6): request rate (token bucket) and body size per sending party.

Off unless configured (``Settings.partner_rate_limit`` / ``partner_max_body_bytes`` or a
``partner_limits`` override), so the routed hot path pays one attribute test. Buckets live in
each worker process: with N workers a party may reach up to N times the rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ocn_core.config import Settings
from ocn_core.errors import PayloadTooLarge, RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # requests per second, 0 = unlimited
    burst: int
    body: int  # bytes, 0 = unlimited


def parse_overrides(text: str, default: Limit) -> dict[str, Limit]:
    """``"CCPID:rate/burst/body,..."`` (empty fields keep the default) as a mapping."""
    found: dict[str, Limit] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, values = item.partition(":")
        fields = [*values.split("/"), "", "", ""][:3]
        if len(key) != 5 or not key.isalnum() or len(values.split("/")) > 3:
            raise ValueError(f"partner_limits entry {item!r} is not CCPID:rate/burst/body")
        rate = float(fields[0]) if fields[0] else default.rate
        burst = int(fields[1]) if fields[1] else default.burst
        body = int(fields[2]) if fields[2] else default.body
        found[key.upper()] = Limit(rate, burst, body)
    return found


class PartnerLimits:
    def __init__(self, settings: Settings) -> None:
        rate = settings.partner_rate_limit
        self.default = Limit(
            rate, settings.partner_rate_burst or max(1, int(rate)), settings.partner_max_body_bytes
        )
        self.overrides = parse_overrides(settings.partner_limits, self.default)
        self.active = bool(rate or settings.partner_max_body_bytes or self.overrides)
        self._buckets: dict[str, tuple[float, float]] = {}  # party -> (tokens, at)
        self.rejected_rate = 0
        self.rejected_body = 0

    def admit(self, party_key: str, body_size: int) -> None:
        """Raise :class:`PayloadTooLarge` or :class:`RateLimited` when ``party_key`` is over."""
        limit = self.overrides.get(party_key, self.default)
        if limit.body and body_size > limit.body:
            self.rejected_body += 1
            raise PayloadTooLarge(
                f"Request body exceeds the limit of {limit.body} bytes for {party_key}"
            )
        if not limit.rate:
            return
        now = time.monotonic()
        tokens, at = self._buckets.get(party_key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.rate)
        if tokens < 1.0:
            self._buckets[party_key] = (tokens, now)
            self.rejected_rate += 1
            wait = (1.0 - tokens) / limit.rate
            raise RateLimited(
                f"Rate limit of {limit.rate:g} requests/s exceeded for {party_key}", wait
            )
        self._buckets[party_key] = (tokens - 1.0, now)

    def counters(self) -> dict[str, int]:
        return {"rejected_rate": self.rejected_rate, "rejected_body": self.rejected_body}
