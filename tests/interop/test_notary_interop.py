"""OCN Notary interop with the real ``@shareandcharge/ocn-notary@1.0.0`` (node test peer).

Ours -> theirs and theirs -> ours, requests and responses, with and without rewrites, on realistic
OCPI objects; plus hypothesis-generated values compared with the reference byte for byte.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocn_core import signing
from ocn_core.signing import _jsvalue, _notary_ref
from ocn_core.signing import errors as serr
from tests.interop.notary_peer import NotaryPeer, running
from tests.support.twins import twins

TWINS = twins(_notary_ref, "ocn_core.signing._notary_cy")

pytestmark = pytest.mark.notary

HERE = Path(__file__).parent
OBJECTS = json.loads((HERE.parent / "vectors" / "notary" / "ocpi_objects.json").read_text())
PARTY_KEY = "0x" + "11" * 32
NODE_KEY = "0x" + "22" * 32
OTHER_KEY = "0x" + "33" * 32


class Peer(NotaryPeer):
    """The reference package, with sign/verify helpers returning comparable outcomes."""

    def sign(self, values: Any, key: str = PARTY_KEY) -> str:
        return str(self(op="sign", values=json.dumps(values), key=key)["header"])

    def verify(self, header: str, values: Any) -> str:
        """'valid', 'modified', 'signatory', 'rewrite: ...' or 'thrown'."""
        answer = self(op="verify", header=header, values=json.dumps(values))
        if "thrown" in answer:
            return "thrown"
        result = answer["result"]
        if result["isValid"]:
            return "valid"
        error = result["error"]
        known = {"Request has been modified": "modified", "Signatories do not match": "signatory"}
        return str(known.get(error, error))


@pytest.fixture(scope="module")
def js(peers: Path) -> Iterator[Peer]:
    yield from running(Peer, peers)


@pytest.fixture(params=TWINS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def ours_verify(impl: ModuleType, header: str, values: Any) -> str:
    try:
        impl.Notary.deserialize(header).verify(values)
    except serr.RequestModified:
        return "modified"
    except serr.SignatoryMismatch:
        return "signatory"
    except serr.RewriteHashMismatch as exc:
        return f"Rewrite {exc.index}: Rewritten request hash does not match"
    except serr.RewriteSignatoryMismatch as exc:
        return f"Rewrite {exc.index}: Rewritten signatory incorrect"
    except (serr.UnsupportedFieldPath, serr.BadSignatureValue, serr.UnsignableValue):
        return "thrown"
    return "valid"


def request(body: Any, params: dict[str, str] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = signing.request_values(OBJECTS["request_headers"], params, body)
    return values


def envelope(data: Any) -> dict[str, Any]:
    return {
        "status_code": 1000,
        "status_message": "Success",
        "data": data,
        "timestamp": "2020-03-06T09:15:36Z",
    }


MESSAGES = {
    "put_location": request(OBJECTS["location"]),
    "patch_evse": request({"status": "CHARGING", "last_updated": "2020-03-06T09:15:36Z"}),
    "put_tariff": request(OBJECTS["tariff"]),
    "post_cdr": request(OBJECTS["cdr"]),
    "post_start_session": request(OBJECTS["start_session"]),
    "get_params": request(
        None, {"offset": "10", "limit": "5", "date_from": "2020-03-06T00:00:00Z"}
    ),
    "response_locations": signing.response_values(
        OBJECTS["response_headers"], envelope([OBJECTS["location"], OBJECTS["location"]])
    ),
    "response_cdr_created": signing.response_values(
        {"Location": "https://cpo.example.com/ocpi/cdrs/12345"}, envelope(None)
    ),
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_ours_to_theirs(js: Peer, impl: ModuleType, name: str) -> None:
    values = MESSAGES[name]
    header = impl.sign(values, PARTY_KEY).serialize()
    assert header == js.sign(values)
    assert js.verify(header, values) == "valid"
    tampered = copy.deepcopy(values)
    signed_header = next(iter(tampered["headers"]))  # every message here signs at least one header
    tampered["headers"][signed_header] += "?"
    assert js.verify(header, tampered) == ours_verify(impl, header, tampered) == "modified"


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_theirs_to_ours(js: Peer, impl: ModuleType, name: str) -> None:
    values = MESSAGES[name]
    header = js.sign(values)
    wire = signing.parse_json(json.dumps(values).encode())
    assert ours_verify(impl, header, wire) == "valid"
    assert impl.Notary.deserialize(header).serialize() == header


REWRITES = {
    # (message, new values, stash)
    "command_response_url": (
        "post_start_session",
        lambda v: v["body"].update(
            response_url="https://node.example.com/commands/START_SESSION/1"
        ),
        {"$['body']['response_url']": OBJECTS["start_session"]["response_url"]},
    ),
    "paginated_link": (
        "response_locations",
        lambda v: v["headers"].update(
            link='<https://node.example.com/ocpi/locations?page=2>; rel="next"'
        ),
        {"$['headers']['link']": OBJECTS["response_headers"]["link"]},
    ),
    "cdr_location": (
        "response_cdr_created",
        lambda v: v["headers"].update(location="https://node.example.com/ocpi/cdrs/1"),
        {"$['headers']['location']": "https://cpo.example.com/ocpi/cdrs/12345"},
    ),
    "service_copy_recipient": (
        "put_location",
        lambda v: v["headers"].update({"ocpi-to-country-code": "CH", "ocpi-to-party-id": "SRV"}),
        {"$['headers']['ocpi-to-country-code']": "NL", "$['headers']['ocpi-to-party-id']": "MSP"},
    ),
}


@pytest.mark.parametrize("name", sorted(REWRITES))
def test_rewrites_both_ways(js: Peer, impl: ModuleType, name: str) -> None:
    base, change, stash = REWRITES[name]
    old = MESSAGES[base]
    new = copy.deepcopy(old)
    change(new)  # type: ignore[no-untyped-call]
    # ours rewrites a reference signature -> theirs verifies
    notary = impl.Notary.deserialize(js.sign(old))
    notary.stash(stash)
    ours = notary.sign(new, NODE_KEY).serialize()
    assert js.verify(ours, new) == "valid"
    # theirs rewrites -> ours verifies, and the bytes agree
    theirs = js(
        op="restamp",
        header=js.sign(old),
        stash=json.dumps(stash),
        values=json.dumps(new),
        key=NODE_KEY,
    )
    assert theirs["header"] == ours
    assert ours_verify(impl, theirs["header"], new) == "valid"
    # a second rewrite on top (two hops)
    notary = impl.Notary.deserialize(ours)
    newer = copy.deepcopy(new)
    name2 = next(iter(new["headers"]))
    newer["headers"][name2] = "hop2"
    key = f"$['headers']['{name2}']"
    notary.stash({key: new["headers"][name2]})
    twice = notary.sign(newer, OTHER_KEY).serialize()
    assert js.verify(twice, newer) == ours_verify(impl, twice, newer) == "valid"
    # wrong stashed value: both name rewrite 0 (the newest)
    bad = impl.Notary.deserialize(ours)
    bad.stash({key: "wrong"})
    bad_header = bad.sign(newer, OTHER_KEY).serialize()
    assert js.verify(bad_header, newer) == ours_verify(impl, bad_header, newer)
    assert (
        ours_verify(impl, bad_header, newer) == "Rewrite 0: Rewritten request hash does not match"
    )


def test_rewrite_with_absent_path_fails_in_both(js: Peer, impl: ModuleType) -> None:
    old = request({"response_url": "https://a/1"})
    notary = impl.Notary.deserialize(js.sign(old))
    notary.stash({"$['body']['response_url']": "https://a/1"})
    new = request(None)
    header = notary.sign(new, NODE_KEY).serialize()
    assert js.verify(header, new) == ours_verify(impl, header, new) != "valid"


# --- generated values ---------------------------------------------------------------------------

SPECIAL_NUMBERS = [
    0,
    -0.0,
    1.0,
    1e21,
    1e-7,
    1e-6,
    1e20,
    0.1,
    5e-324,
    2**53,
    2**53 + 1,
    2**64 + 7,
    -1.5,
    123e-20,
]
keys = st.one_of(
    st.text(alphabet="abcXYZ_-.Äß☃ 𝄞'\\\"[]", max_size=5),
    st.integers(0, 2**33).map(str),
    st.sampled_from(
        ["01", "-1", "4294967294", "4294967295", "length", "0", "constructor", "toString"]
    ),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(SPECIAL_NUMBERS),
    st.text(max_size=6),
    st.just(""),
)
json_values = st.recursive(
    leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=5), max_leaves=24
)
EXAMPLES = int(os.environ.get("OCN_NOTARY_EXAMPLES", "60"))  # raise for a deeper soak
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(body=json_values)
def test_generated_sign_is_byte_identical(js: Peer, body: Any) -> None:
    values = {"headers": {"x-correlation-id": "c"}, "body": body}
    text = json.dumps(values, ensure_ascii=False)
    theirs = js(op="sign", values=text, key=PARTY_KEY)
    for impl in (p.values[0] for p in TWINS):
        ours = impl.sign(signing.parse_json(text.encode()), PARTY_KEY)
        assert ours.to_json() == theirs["notary"]
        assert ours.serialize() == theirs["header"]


def _perturb(values: Any, data: st.DataObject) -> Any:
    """Replace one leaf or container somewhere with another value (or drop it)."""
    out = copy.deepcopy(values)
    node = out
    parents: list[tuple[Any, Any]] = []
    while isinstance(node, dict | list) and node:
        key = data.draw(
            st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node))))
        )
        parents.append((node, key))
        node = node[key]
        if data.draw(st.booleans()):
            break
    if parents:
        parent, key = parents[-1]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = data.draw(json_values)
    return out


@SETTINGS
@given(body=json_values, data=st.data())
def test_generated_verify_outcomes_agree(js: Peer, body: Any, data: st.DataObject) -> None:
    values = {"headers": {"x-correlation-id": "c"}, "body": body}
    header = js.sign(values)
    received = _perturb(values, data) if data.draw(st.booleans()) else values
    wire = signing.parse_json(json.dumps(received).encode())
    theirs = js.verify(header, received)
    for impl in (p.values[0] for p in TWINS):
        assert ours_verify(impl, header, wire) == theirs


@settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**80), 2**80), json_values
    )
)
def test_generated_value_text_like_javascript(js: Peer, value: Any) -> None:
    answer = js(op="stringify", value=json.dumps(value))
    parsed = signing.parse_json(json.dumps(value).encode())
    if answer["text"] is None:  # e.g. an object with an own "toString" key: String() throws
        with pytest.raises(ValueError, match="primitive"):
            _jsvalue.js_text(parsed)
    else:
        assert _jsvalue.js_text(parsed) == answer["text"]
    assert _jsvalue.js_stringify(parsed) == answer["json"]


def test_node_to_node_signature_both_ways(js: Peer) -> None:
    body = json.dumps({"type": "REGISTER", "msg": "Ünïcode ☃"}, ensure_ascii=False).encode()
    ours = signing.node_sign(body, bytes.fromhex(NODE_KEY[2:]))
    assert js(op="node_recover", body=body.decode(), sig="0x" + ours)[
        "address"
    ] == signing.address_of(NODE_KEY)
    theirs = js(op="node_sign", body=body.decode(), key=NODE_KEY)
    assert theirs["sig"] == "0x" + ours
    assert signing.node_recover(body, theirs["sig"]) == theirs["address"]
