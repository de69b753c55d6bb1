"""OCN-Signature verify throughput: ours (Cython, pure), the reference JS notary, bare secp256k1.

One run measures, on the same signed request (5 OCPI headers + a ~1.2 KB Location, ~52 fields):
``Notary.deserialize(header)`` + ``verify(values)`` of both twins, the reference
``@shareandcharge/ocn-notary@1.0.0`` doing the same in node (sequential), and the floor of any
verifier: coincurve recover + keccak -> address. ``run(quick)`` returns the figures and ratios;
``python -m benchmarks.notary_bench [--quick]`` prints them as JSON.
"""

from __future__ import annotations

import importlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import sha3
from coincurve import PublicKey

from ocn_core.signing import _codec, _crypto, _notary_ref

ROOT = Path(__file__).resolve().parents[1]
PEER_JS = ROOT / "tests" / "interop" / "js" / "notary_peer.js"
NODE_MODULES = ROOT / "tests" / "peers" / "node_modules"
TEST_KEY = "0x" + sha3.keccak_256(b"ocn-router notary benchmark throw-away key").hexdigest()

HEADERS = {
    "x-correlation-id": "f6b3ab5e-7c0e-4a3b-9f54-1a2b3c4d5e6f",
    "ocpi-from-country-code": "DE",
    "ocpi-from-party-id": "CPO",
    "ocpi-to-country-code": "NL",
    "ocpi-to-party-id": "MSP",
}


def _connector(cid: str, tariff: str, updated: str) -> dict[str, Any]:
    return {
        "id": cid,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 220,
        "max_amperage": 16,
        "tariff_ids": [tariff],
        "last_updated": updated,
    }


LOCATION: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "LOC1",
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "evses": [
        {
            "uid": "3256",
            "evse_id": "BE*BEC*E041503001",
            "status": "AVAILABLE",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                _connector("1", "11", "2015-03-16T10:10:02Z"),
                _connector("2", "13", "2015-03-18T08:12:01Z"),
            ],
            "physical_reference": "1",
            "floor_level": "-1",
            "last_updated": "2015-06-28T08:12:01Z",
        },
        {
            "uid": "3257",
            "evse_id": "BE*BEC*E041503002",
            "status": "RESERVED",
            "capabilities": ["RESERVABLE"],
            "connectors": [_connector("1", "12", "2015-06-29T20:39:09Z")],
            "last_updated": "2015-06-29T20:39:09Z",
        },
    ],
    "last_updated": "2015-06-29T20:39:09Z",
}


def _rates(fn: Callable[[], object], seconds: float, repeats: int) -> list[float]:
    """``repeats`` measurements of calls/s, each a plain loop of at least ``seconds``."""
    fn()
    out = []
    for _ in range(repeats):
        calls, n = 0, 16
        t0 = time.perf_counter()
        while True:
            for _ in range(n):
                fn()
            calls += n
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
            n = min(n * 2, 2048)
        out.append(calls / elapsed)
    return out


def _verifier(impl: ModuleType, header: str, values: Any) -> Callable[[], None]:
    """The measured operation: what a node does with an incoming OCN-Signature."""
    deserialize = impl.Notary.deserialize

    def once() -> None:
        deserialize(header).verify(values)

    once()
    return once


def _spread(rates: list[float]) -> dict[str, float]:
    med = statistics.median(rates)
    return {
        "ops_s": round(med, 1),
        "min": round(min(rates), 1),
        "max": round(max(rates), 1),
        "us_per_op": round(1e6 / med, 2),
    }


def _peer() -> Any:
    """The reference package's driver (a repository test peer), or why it is unavailable."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_MODULES / "@shareandcharge" / "ocn-notary").is_dir() or not PEER_JS.is_file():
        return "npm test peers missing (make peers)"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.interop.notary_peer import NotaryPeer

    return NotaryPeer(NODE_MODULES)


def _cython() -> ModuleType | str:
    try:
        return importlib.import_module("ocn_core.signing._notary_cy")
    except ImportError as exc:
        return f"Cython twin not built: {exc}"


def run(quick: bool) -> dict[str, Any]:
    """Measure and return ops/s (median/min/max of repeats), µs/op and the ratios."""
    seconds, repeats = (0.25, 1) if quick else (1.0, 5)
    values = _notary_ref.request_values(HEADERS, None, LOCATION)
    values_text = json.dumps(values, separators=(",", ":"))
    peer = _peer()
    try:
        if not isinstance(peer, str):  # signed by the reference, as a party would
            header = str(peer(op="sign", values=values_text, key=TEST_KEY)["header"])
        else:
            header = _notary_ref.sign(values, TEST_KEY).serialize()
        notary = _notary_ref.Notary.deserialize(header)
        notary.verify(values)
        body_bytes = len(json.dumps(LOCATION, separators=(",", ":")).encode())
        result: dict[str, Any] = {
            "mode": "quick" if quick else "full",
            "seconds_per_repeat": seconds,
            "repeats": repeats,
            "message": {
                "signed_fields": len(notary.fields),
                "body_bytes": body_bytes,
                "header_chars": len(header),
                "notary_json_bytes": len(_codec.inflate(header)),
                "signed_by": "reference JS notary" if not isinstance(peer, str) else "ours",
            },
            "fast_recover": _crypto.FAST_RECOVER,
        }

        digest = _crypto.personal_digest(notary.hash.encode())
        rs_recid = _crypto.split_rsv(notary.rsv)
        keccak = sha3.keccak_256

        def bare() -> bytes:
            pub = PublicKey.from_signature_and_message(rs_recid, digest, hasher=None)
            return keccak(pub.format(compressed=False)[1:]).digest()[-20:]  # type: ignore[no-any-return]

        assert "0x" + bare().hex() == notary.signatory.lower()
        impls: dict[str, ModuleType | str] = {"cy": _cython(), "ref": _notary_ref}
        figures: dict[str, dict[str, float] | str] = {}
        # interleave the in-process candidates so drift hits them alike
        rates: dict[str, list[float]] = {"bare": [], "cy": [], "ref": []}
        for _ in range(repeats):
            rates["bare"] += _rates(bare, seconds, 1)
            for name, impl in impls.items():
                if isinstance(impl, ModuleType):
                    rates[name] += _rates(_verifier(impl, header, values), seconds, 1)
        for name, rs in rates.items():
            figures[name] = _spread(rs) if rs else str(impls[name])
        if not isinstance(peer, str):
            js = peer(
                op="bench",
                header=header,
                values=values_text,
                seconds=seconds,
                repeats=repeats,
                warmup=seconds,
            )
            figures["js"] = _spread([float(r) for r in js["runs"]])
        else:
            figures["js"] = peer
    finally:
        if not isinstance(peer, str):
            peer.close()

    result["verify"] = figures
    result["ratios"] = _ratios(figures)
    result["targets"] = {
        "vs_js_min": 50.0,
        "vs_bare_min": 0.8,
        "cy_vs_js_met": _met(result["ratios"].get("cy_vs_js"), 50.0),
        "cy_vs_bare_met": _met(result["ratios"].get("cy_vs_bare"), 0.8),
    }
    return result


def _ops(figures: dict[str, Any], name: str) -> float | None:
    fig = figures.get(name)
    return float(fig["ops_s"]) if isinstance(fig, dict) else None


def _ratios(figures: dict[str, Any]) -> dict[str, float]:
    out = {}
    for num, den in (("cy", "js"), ("ref", "js"), ("cy", "bare"), ("ref", "bare"), ("cy", "ref")):
        a, b = _ops(figures, num), _ops(figures, den)
        if a is not None and b:
            out[f"{num}_vs_{den}"] = round(a / b, 3)
    return out


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def main() -> None:
    print(json.dumps(run("--quick" in sys.argv[1:]), indent=2))


if __name__ == "__main__":
    main()
