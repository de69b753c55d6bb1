"""Regenerate ``vectors.json`` with the real ``@shareandcharge/ocn-notary@1.0.0`` (test peer).

Run from the repository root: ``python tests/vectors/notary/generate.py``. Keys are throw-away test
keys derived from fixed labels; the vectors are data produced by the reference package.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import sha3

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from tests.interop.notary_peer import NotaryPeer  # noqa: E402

PARTY_KEY = "0x" + sha3.keccak_256(b"ocn-router throw-away test key: party").hexdigest()
NODE_KEY = "0x" + sha3.keccak_256(b"ocn-router throw-away test key: node").hexdigest()

# Literal JSON texts for the traps (numbers, key order, skipping, unicode), signed as the body.
TRAP_BODIES = [
    '{"n":[1.0,1e21,1e-7,-0,0.1,123e-20,1e20,12345678901234567890,5e-324,100,-1.5,0,2.50]}',
    '{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967294":6,"4294967295":7,"a":"x"}',
    '{"t":true,"f":false,"n":null,"e":"","z":0,"ea":[],"eo":{},"nested":[[],[null,""],{"k":[0]}]}',
    '{"u":"Ünïcödé ☃ 𝄞 \\u2028 \\"q\\" \\\\ \\n","ключ":"значение","emoji":"🔌⚡"}',
    '{"Upper":"case keys do not verify in the reference","lower":"x"}',
    '{"dup":1,"other":2,"dup":3}',
]


def _values(headers: dict[str, str], body: object, params: dict[str, str] | None = None) -> str:
    values: dict[str, Any] = {"headers": headers}
    if params is not None:
        values["params"] = params
    if body is not None:
        values["body"] = body
    return json.dumps(values, ensure_ascii=False)


def main() -> None:
    peer = NotaryPeer(ROOT / "tests" / "peers" / "node_modules")
    objects = json.loads((HERE / "ocpi_objects.json").read_text())
    req_h, resp_h = objects["request_headers"], objects["response_headers"]
    envelope = {
        "status_code": 1000,
        "status_message": "Success",
        "data": [objects["location"], objects["location"]],
        "timestamp": "2020-03-06T09:15:36.111Z",
    }
    cases: list[dict[str, Any]] = [
        {"name": "put_location", "values": _values(req_h, objects["location"])},
        {"name": "put_tariff", "values": _values(req_h, objects["tariff"])},
        {"name": "post_cdr", "values": _values(req_h, objects["cdr"])},
        {"name": "post_start_session", "values": _values(req_h, objects["start_session"])},
        {
            "name": "get_locations_params",
            "values": _values(
                req_h, None, {"offset": "0", "limit": "2", "date_from": "2020-01-01"}
            ),
        },
        {"name": "response_locations_page", "values": _values(resp_h, envelope)},
    ]
    for i, body in enumerate(TRAP_BODIES):
        cases.append(
            {
                "name": f"trap_{i}",
                "values": '{"headers":' + json.dumps(req_h) + ',"body":' + body + "}",
            }
        )
    for case in cases:
        signed = peer(op="sign", values=case["values"], key=PARTY_KEY)
        case["header"] = signed["header"]
        case["notary"] = signed["notary"]
        case["js_verify"] = peer(op="verify", header=signed["header"], values=case["values"])

    # rewrites made by the reference: the node swaps response_url / Link and re-signs
    start = objects["start_session"]
    new_start = copy.deepcopy(start)
    new_start["response_url"] = "https://node.example.com/ocpi/commands/START_SESSION/9f1c"
    first = peer(op="sign", values=_values(req_h, start), key=PARTY_KEY)
    stash = {"$['body']['response_url']": start["response_url"]}
    rewritten = peer(
        op="restamp",
        header=first["header"],
        stash=json.dumps(stash),
        values=_values(req_h, new_start),
        key=NODE_KEY,
    )
    cases.append(
        {
            "name": "rewrite_response_url",
            "values": _values(req_h, new_start),
            "original_values": _values(req_h, start),
            "stash": stash,
            "header": rewritten["header"],
            "notary": rewritten["notary"],
            "js_verify": peer(
                op="verify", header=rewritten["header"], values=_values(req_h, new_start)
            ),
        }
    )
    new_resp_h = dict(
        resp_h, link='<https://node.example.com/ocpi/2.2/locations?offset=2&limit=2>; rel="next"'
    )
    first = peer(op="sign", values=_values(resp_h, envelope), key=PARTY_KEY)
    stash = {"$['headers']['link']": resp_h["link"]}
    rewritten = peer(
        op="restamp",
        header=first["header"],
        stash=json.dumps(stash),
        values=_values(new_resp_h, envelope),
        key=NODE_KEY,
    )
    cases.append(
        {
            "name": "rewrite_link",
            "values": _values(new_resp_h, envelope),
            "original_values": _values(resp_h, envelope),
            "stash": stash,
            "header": rewritten["header"],
            "notary": rewritten["notary"],
            "js_verify": peer(
                op="verify", header=rewritten["header"], values=_values(new_resp_h, envelope)
            ),
        }
    )

    texts = [
        "1.0",
        "1e21",
        "1e-7",
        "-0",
        "0.1",
        "123456789012345678901234567890",
        "1e400",
        "5e-324",
        "1.7976931348623157e308",
        "123e-20",
        "1e20",
        "0.000001",
        "1234567.0",
        "-1.5e-10",
        "[null,[1,[2,null]],{}]",
        '{"a":1}',
        "true",
        "false",
        '"x"',
        "9007199254740993",
    ]
    strings = [{"literal": t, **peer(op="stringify", value=t)} for t in texts]
    body = b'{"type":"REGISTER","recipient":"DE*CPO"}'
    node_sig = peer(op="node_sign", body=body.decode(), key=NODE_KEY)
    out = {
        "package": "@shareandcharge/ocn-notary@1.0.0 (ethers 4.0.49)",
        "party_key": PARTY_KEY,
        "node_key": NODE_KEY,
        "cases": cases,
        "strings": strings,
        "node_signature": {"body": body.decode(), **node_sig},
    }
    (HERE / "vectors.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    peer.close()


if __name__ == "__main__":
    main()
