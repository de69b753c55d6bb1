// JSON-lines driver around the real @shareandcharge/ocn-notary (test peer, never vendored).
// One request per stdin line: {"op": ..., ...}; one JSON answer per stdout line.
// Values travel as raw JSON text ("values") so that JS parses the same literals Python does.
"use strict";
const Notary = require("@shareandcharge/ocn-notary").default;
const { ethers } = require("ethers");
const readline = require("readline");

async function handle(req) {
  switch (req.op) {
    case "sign": {
      const n = new Notary();
      await n.sign(JSON.parse(req.values), req.key);
      return { header: await n.serialize(), notary: JSON.parse(JSON.stringify(n)) };
    }
    case "verify": {
      const n = await Notary.deserialize(req.header);
      try {
        return { result: n.verify(JSON.parse(req.values)) };
      } catch (e) {
        return { thrown: String(e && e.message ? e.message : e) };
      }
    }
    case "restamp": {
      // theirs rewrites: deserialize, stash old values, re-sign the new values
      const n = await Notary.deserialize(req.header);
      n.stash(JSON.parse(req.stash));
      await n.sign(JSON.parse(req.values), req.key);
      return { header: await n.serialize(), notary: JSON.parse(JSON.stringify(n)) };
    }
    case "deserialize": {
      const n = await Notary.deserialize(req.header);
      return { notary: JSON.parse(JSON.stringify(n)), reserialized: await n.serialize() };
    }
    case "serialize": {
      // serialize a notary given as raw JSON text (exact JS key order / number printing)
      const j = JSON.parse(req.notary);
      const n = new Notary();
      Object.assign(n, j);
      return { header: await n.serialize(), json: JSON.stringify(n) };
    }
    case "stringify": {
      // how JS concatenates a value into the message: "" + [value]
      const value = JSON.parse(req.value);
      let text;
      try { text = "" + [value]; } catch (e) { text = null; }
      return { text, json: JSON.stringify(value) };
    }
    case "node_sign": {
      const w = new ethers.Wallet(req.key);
      return { sig: await w.signMessage(ethers.utils.toUtf8Bytes(req.body)), address: w.address };
    }
    case "node_recover": {
      return { address: ethers.utils.verifyMessage(ethers.utils.toUtf8Bytes(req.body), req.sig) };
    }
    case "bench": {
      // sequential deserialize + verify for >= req.seconds, repeated req.repeats times
      const values = JSON.parse(req.values);
      const runs = [];
      const warmEnd = process.hrtime.bigint() + BigInt(Math.round((req.warmup || 0) * 1e9));
      while (process.hrtime.bigint() < warmEnd) {
        (await Notary.deserialize(req.header)).verify(values);
      }
      for (let r = 0; r < (req.repeats || 1); r++) {
        let ops = 0;
        const t0 = process.hrtime.bigint();
        const limit = BigInt(Math.round(req.seconds * 1e9));
        for (;;) {
          const n = await Notary.deserialize(req.header);
          const res = n.verify(values);
          if (!res.isValid) throw new Error("bench verify failed: " + res.error);
          ops++;
          const dt = process.hrtime.bigint() - t0;
          if (dt >= limit) { runs.push(ops / (Number(dt) / 1e9)); break; }
        }
      }
      return { runs };
    }
    default:
      throw new Error("unknown op " + req.op);
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
let chain = Promise.resolve();
rl.on("line", (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let out;
    try {
      out = await handle(JSON.parse(line));
    } catch (e) {
      out = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
