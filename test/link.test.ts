// The Notecard link through the built bundle: exact framing, crc, retries, every simulator fault
// knob, schema validity of every request and response, and bounded bus work per response.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as acorn from "acorn";
import { readFileSync } from "fs";
import { SimBoard } from "../sim/board";
import { nodeNatives } from "../sim/natives";
import { Fault, NotecardSimOptions } from "../sim/notecard";
import { addCrc } from "../src/notecard/client";
import { loadBundle } from "./helpers/bundle";
import { schemaDir, validateExchange } from "./helpers/schema";

const NotecardDFU = loadBundle();

function image(size: number, seed = 7): Uint8Array {
  const d = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; d[i] = x >>> 24; }
  return d;
}

function rig(simOptions: Partial<NotecardSimOptions> = {}, setupOptions: any = {}) {
  const board = new SimBoard({ notecard: simOptions });
  const clock = board.clock, sim = board.card;
  const dfu = NotecardDFU.setup(Object.assign(board.ports(), { board: "LINUX" }, setupOptions));
  /** Runs one request on the virtual clock and returns [err, rsp]. */
  function call(req: any): [any, any] {
    let out: [any, any] | null = null;
    dfu.request(req, (err: any, rsp: any) => { out = [err, rsp]; });
    clock.runUntil(() => out !== null);
    assert.ok(out, "request never completed");
    return out as [any, any];
  }
  return { clock, sim, dfu, call };
}

/** Reads the staged image with dfu.get, re-entering DFU mode when the card drops it. */
function readImage(r: ReturnType<typeof rig>, length: number, chunk: number): { data: Uint8Array; cardErrors: string[] } {
  const data = new Uint8Array(length);
  const cardErrors: string[] = [];
  for (let off = 0; off < length;) {
    const n = Math.min(chunk, length - off);
    const [err, rsp] = r.call({ req: "dfu.get", offset: off, length: n });
    if (err) {
      cardErrors.push(err.code + ": " + err.message);
      assert.ok(cardErrors.length < 200, "too many errors: " + cardErrors.slice(-3).join(" | "));
      if (/DFU operating mode/.test(err.message)) r.call({ req: "hub.set", mode: "dfu" });
      continue;
    }
    const bytes = Buffer.from(rsp.payload, "base64");
    assert.equal(createHash("md5").update(bytes).digest("hex"), rsp.status);
    data.set(bytes, off);
    off += n;
  }
  return { data, cardErrors };
}

describe("Notecard link (built bundle + byte-level simulator)", function () {
  describe("framing", function () {
    it("splits a request into MTU-sized data writes behind a length byte", function () {
      const writes: number[][] = [];
      const board = new SimBoard();
      const clock = board.clock, sim = board.card;
      const spy = {
        writeTo(a: number, d: Uint8Array) { writes.push(Array.from(d)); sim.writeTo(a, d); },
        readFrom(a: number, n: number) { return sim.readFrom(a, n); }
      };
      const dfu = NotecardDFU.setup(Object.assign(board.ports({ i2c: spy }), { board: "LINUX", transport: { mtu: 30 } }));
      let done = false;
      dfu.request({ req: "dfu.get", offset: 0, length: 4096 }, () => { done = true; });
      clock.runUntil(() => done);
      const line = '{"req":"dfu.get","offset":0,"length":4096,"crc":"0000:5C89CD62"}\n';
      assert.equal(line.length, 65);
      const bytes = Array.from(Buffer.from(line, "latin1"));
      const data = writes.filter((w) => w[0] !== 0 && !(w.length === 2 && w[1] === 10));
      assert.deepEqual(data.map((w) => w[0]), [0x1e, 0x1e, 0x05]);
      assert.deepEqual(data.flatMap((w) => w.slice(1)), bytes);
      assert.deepEqual(data[0].slice(0, 4), [0x1e, 0x7b, 0x22, 0x72]);
    });

    it("reads with a [0x00, N] setup and expects exactly N + 2 bytes back", function () {
      const setups: number[] = [];
      const reads: number[] = [];
      const board = new SimBoard();
      const clock = board.clock, sim = board.card;
      const spy = {
        writeTo(a: number, d: Uint8Array) { if (d[0] === 0) setups.push(d[1]); sim.writeTo(a, d); },
        readFrom(a: number, n: number) { reads.push(n); return sim.readFrom(a, n); }
      };
      const dfu = NotecardDFU.setup(Object.assign(board.ports({ i2c: spy }), { board: "LINUX" }));
      let rsp: any;
      dfu.request({ req: "card.version" }, (_e: any, r: any) => { rsp = r; });
      clock.runUntil(() => rsp !== undefined);
      assert.equal(rsp.body.ver_major, 9);
      assert.equal(setups.length, reads.length);
      setups.forEach((n, i) => assert.equal(reads[i], n + 2));
      assert.ok(setups.some((n) => n > 0) && setups.every((n) => n <= 253));
    });

    it("adds the crc field exactly as note-c does", function () {
      assert.equal(addCrc('{"req": "hub.sync"}', 1, 0xdf2b9115), '{"req": "hub.sync","crc":"0001:DF2B9115"}');
      assert.equal(addCrc("{}", 0, 0xa3a6bf43), '{ "crc":"0000:A3A6BF43"}');
      assert.equal(nodeNatives.crc32('{"req":"hub.sync"}'), 0x10bac79a);
    });
  });

  describe("requests", function () {
    it("verifies the card's crc and strips it from the response", function () {
      const r = rig();
      const [err, rsp] = r.call({ req: "card.version" });
      assert.equal(err, null);
      assert.equal(rsp.crc, undefined);
      assert.match(r.sim.log[r.sim.log.length - 1].raw, /"crc":"0000:[0-9a-f]{8}"}$/);
    });

    it("accepts the crc the card puts in an otherwise empty response", function () {
      const r = rig();
      r.call({ req: "card.version" });
      const [err, rsp] = r.call({ req: "hub.set", mode: "periodic" });
      assert.equal(err, null);
      assert.deepEqual(rsp, {});
      assert.match(r.sim.log[r.sim.log.length - 1].raw, /^\{ "crc":"0001:[0-9a-f]{8}"\}$/);
      assert.equal(r.sim.log.filter((l) => l.req.req === "hub.set").length, 1, "no retry");
    });

    it("rejects a response whose crc does not match and retries the request", function () {
      const r = rig({ faults: { corrupt: 1 }, faultsFrom: 2, faultsUntil: 3 });
      const [err, rsp] = r.call({ req: "card.version" });
      assert.equal(err, null);
      assert.equal(rsp.body.ver_major, 9);
      assert.ok((r.sim.injected.corrupt ?? 0) >= 1, "a byte was corrupted");
      assert.equal(r.sim.log.filter((l) => l.req.req === "card.version").length, 2, "one retry");
    });

    it("works with a card that neither checks nor echoes crc", function () {
      const r = rig({ crc: false });
      const [err, rsp] = r.call({ req: "card.version" });
      assert.equal(err, null);
      assert.equal(rsp.version.indexOf("notecard-"), 0);
    });

    it("does not retry {not-supported} and reports it as a card error with the card's response", function () {
      const r = rig();
      const [err] = r.call({ req: "card.nonsense" });
      assert.equal(err.code, "card");
      assert.ok(err instanceof Error);
      assert.match((err as any).response.err, /\{not-supported\}/);
      assert.equal(r.sim.log.filter((l) => l.req.req === "card.nonsense").length, 1);
    });

    it("reports a card error without retrying it", function () {
      const r = rig();
      const [err] = r.call({ req: "dfu.get", offset: 0, length: 16 });
      assert.equal(err.code, "card");
      assert.match(err.message, /dfu-not-ready/);
      assert.equal(r.sim.log.filter((l) => l.req.req === "dfu.get").length, 1);
    });

    it("sends a command without reading a response", function () {
      const r = rig();
      let done: any;
      r.dfu.command({ cmd: "hub.set", mode: "periodic" }, (e: any) => { done = e; });
      r.clock.runUntil(() => done !== undefined);
      assert.equal(done, null);
      assert.equal(r.sim.hubMode, "periodic");
    });

    it("keeps one request on the bus at a time and answers in order", function () {
      const r = rig();
      r.sim.stage({ data: image(3000), version: "2.0.0" });
      const order: string[] = [];
      for (const off of [0, 1000, 2000]) {
        r.dfu.request({ req: "dfu.get", offset: off, length: 1000 }, (e: any, rsp: any) => {
          assert.equal(e, null);
          assert.deepEqual(new Uint8Array(Buffer.from(rsp.payload, "base64")), image(3000).subarray(off, off + 1000));
          order.push(String(off));
        });
      }
      r.clock.runUntil(() => order.length === 3);
      assert.deepEqual(order, ["0", "1000", "2000"]);
    });

    it("treats data after a response's newline as a broken exchange, named as such: resync, then the answer", function () {
      const r = rig({}, { retries: 0 });
      let n = 0;
      r.sim.mutateRaw = (req: any, raw: string) => (req.req === "card.version" && !n++ ? raw + '\r\n{"stale":1}' : raw);
      const [err] = r.call({ req: "card.version" });
      assert.equal(err.code, "io");
      assert.match(err.message, /data after the response/);
      const [err2, rsp2] = r.call({ req: "card.version" });
      assert.equal(err2, null, "the stale line was drained by the resync, not read as the next answer");
      assert.equal(rsp2.body.ver_major, 9);
    });

    it("with a pause between read setup and read (note-c's pacing), splits each read over two turns", function () {
      const events: [string, number][] = [];
      const board = new SimBoard();
      const clock = board.clock, sim = board.card;
      const spy = {
        writeTo(a: number, d: Uint8Array) { if (d[0] === 0 && d.length === 2) events.push(["setup", clock.now]); sim.writeTo(a, d); },
        readFrom(a: number, n: number) { events.push(["read", clock.now]); return sim.readFrom(a, n); }
      };
      const dfu = NotecardDFU.setup(Object.assign(board.ports({ i2c: spy }), { board: "LINUX", transport: { mtu: 30, gapMs: 6, chunkDelayMs: 20, readDelayMs: 2, pollMs: 50 } }));
      let rsp: any;
      dfu.request({ req: "card.version" }, (_e: any, r: any) => { rsp = r; });
      clock.runUntil(() => rsp !== undefined);
      assert.equal(rsp.body.ver_major, 9);
      const reads = events.filter((e) => e[0] === "read");
      assert.ok(reads.length > 0);
      for (let i = 0; i < events.length; i++) {
        if (events[i][0] !== "read") continue;
        assert.equal(events[i - 1][0], "setup", "every read follows its setup");
        assert.ok(events[i][1] - events[i - 1][1] >= 2, "2 ms later");
      }
    });

    it("times out with an {io} error when the card never answers", function () {
      const r = rig({ latencyMs: 120e3 }, { retries: 0 });
      const [err] = r.call({ req: "card.version" });
      assert.equal(err.code, "io");
      assert.match(err.message, /timeout: no response/);
    });

    it("loses request bytes when pacing ignores the 1500-byte input buffer, and the retry recovers", function () {
      const r = rig({ inputDrainPerMs: 0.2 }, { transport: { segmentPauseMs: 0 } });
      const long = "x".repeat(2000);
      const [err] = r.call({ req: "dfu.status", status: long });
      assert.ok(r.sim.bytesLost > 0, "overflow should lose bytes");
      assert.ok(err, "a request that lost bytes must not succeed silently");
      const paced = rig({ inputDrainPerMs: 1 });
      const [ok] = paced.call({ req: "dfu.status", status: long });
      assert.equal(ok, null);
      assert.equal(paced.sim.bytesLost, 0);
    });
  });

  describe("fault knobs", function () {
    // Bus knobs fire per exchange, request knobs per request: rates that make each fire a few times.
    const recovered: [Fault, number][] = [["nack", 0.05], ["corrupt", 0.05], ["truncate", 0.05], ["count", 0.05],
      ["reset", 0.02], ["io", 0.3], ["malformed", 0.3], ["latency", 0.3]];
    for (const [kind, rate] of recovered) {
      it(`recovers from ${kind} and delivers the data byte-exact`, function () {
        const r = rig({ faults: { [kind]: rate }, seed: 11 });
        const img = image(16384, 3);
        r.sim.stage({ data: img, version: "2.0.0" });
        const { data } = readImage(r, img.length, 2048);
        assert.ok((r.sim.injected[kind] ?? 0) > 0, `no ${kind} fault was injected`);
        assert.deepEqual(data, img);
      });
    }

    it("reports a dropped DFU mode as a card error, and reading resumes at the same offset after re-entry", function () {
      const r = rig({ needsDfuMode: true, dfuEntryMs: 0, faults: { dfuDrop: 0.2 }, seed: 5 });
      const img = image(16384, 4);
      r.sim.stage({ data: img, version: "2.0.0" });
      r.call({ req: "hub.set", mode: "dfu" });
      const { data, cardErrors } = readImage(r, img.length, 2048);
      assert.ok((r.sim.injected.dfuDrop ?? 0) > 0);
      assert.ok(cardErrors.some((e) => /^card: not currently in the DFU operating mode/.test(e)), cardErrors.join("\n"));
      assert.deepEqual(data, img);
    });

    it("reads a 64 KiB image byte-exact with every fault knob enabled at a low rate", function () {
      const faults: Partial<Record<Fault, number>> = { nack: 0.01, corrupt: 0.01, truncate: 0.01, count: 0.01, io: 0.02, reset: 0.003, malformed: 0.02, dfuDrop: 0.02, latency: 0.02 };
      const r = rig({ needsDfuMode: true, dfuEntryMs: 0, faults, seed: 2026 });
      const img = image(65536, 9);
      r.sim.stage({ data: img, version: "2.0.0" });
      r.call({ req: "hub.set", mode: "dfu" });
      const { data } = readImage(r, img.length, 4096);
      assert.deepEqual(data, img);
      const kinds = Object.keys(r.sim.injected);
      console.log(`      faults injected: ${JSON.stringify(r.sim.injected)}`);
      assert.ok(kinds.length >= 6, "most fault kinds should have fired: " + kinds.join(","));
    });
  });

  describe("schemas", function () {
    it("every request sent and every simulated response validates against Blues' schemas", function () {
      if (!schemaDir()) { console.log("      (skipped: ../shared/notecard-schema not found)"); this.skip(); }
      const r = rig({ needsDfuMode: true, dfuEntryMs: 1000 });
      r.sim.stage({ data: image(5000), version: "2.0.0" });
      r.call({ req: "card.version" });
      r.call({ req: "dfu.status" });
      r.call({ req: "dfu.status", version: "1.0.0" });
      r.call({ req: "hub.set", mode: "dfu" });
      r.call({ req: "dfu.get", length: 0 });
      r.clock.advance(1000);
      r.call({ req: "dfu.get", length: 0 });
      r.call({ req: "dfu.get", offset: 0, length: 4096 });
      r.call({ req: "dfu.get", offset: 4096, length: 904 });
      r.call({ req: "hub.set", mode: "dfu-completed" });
      r.call({ req: "dfu.status", stop: true, status: "installed 2.0.0" });
      r.call({ req: "dfu.status", stop: true, err: "rejected 3.0.0: CRC mismatch" });
      assert.ok(r.sim.log.length >= 11);
      const problems = r.sim.log.flatMap((l) => validateExchange(l.req, l.rsp));
      assert.deepEqual(problems, []);
    });
  });

  describe("bus work", function () {
    it("bounds port calls per response by bytes/MTU plus a constant", function () {
      for (const chunk of [1024, 4096, 8192]) {
        const r = rig({ latencyMs: 5 }, { chunkSize: 8192 });
        r.sim.stage({ data: image(chunk), version: "2.0.0" });
        r.call({ req: "card.version" });
        const before = r.sim.portCalls;
        r.call({ req: "dfu.get", offset: 0, length: chunk });
        const calls = r.sim.portCalls - before;
        const rsp = r.sim.log[r.sim.log.length - 1].raw.length + 2;
        const bound = 2 * Math.ceil(rsp / 253) + 6;
        assert.ok(calls <= bound, `${calls} port calls for a ${rsp}-byte response (bound ${bound})`);
      }
    });

    it("reads a reply back to back, at most turnBytes (plus one read) per event-loop turn", function () {
      const perTurn = (turnBytes: number | undefined) => {
        const board = new SimBoard({ notecard: {} });
        const ports: any = board.ports(), t0 = ports.timers, bus = ports.i2c;
        let inTurn = 0, most = 0, turns = 0;
        // Count the reply bytes read inside each timer callback the module schedules.
        const timers = { set: (fn: () => void, ms: number) => t0.set(() => { inTurn = 0; turns++; fn(); }, ms), clear: (id: any) => t0.clear(id) };
        const i2c = { writeTo: (a: number, d: Uint8Array) => bus.writeTo(a, d), readFrom: (a: number, n: number) => { const r = bus.readFrom(a, n); inTurn += r[1]; most = Math.max(most, inTurn); return r; } };
        const dfu = NotecardDFU.setup(Object.assign(ports, { board: "LINUX", timers, i2c, transport: turnBytes === undefined ? {} : { turnBytes } }));
        board.card.stage({ data: image(4096), version: "2.0.0" });
        let out: any = null;
        dfu.request({ req: "dfu.get", offset: 0, length: 4096 }, (e: any, r: any) => { out = [e, r]; });
        board.clock.runUntil(() => out !== null);
        assert.equal(out[0], null);
        assert.equal(Buffer.from(out[1].payload, "base64").length, 4096);
        return { most, turns };
      };
      const one = perTurn(0), def = perTurn(undefined), small = perTurn(512);
      assert.ok(one.most <= 253, `one read per turn: ${one.most} bytes`);
      assert.ok(def.most > 2048 - 253 && def.most < 2048 + 253, `default 2048: ${def.most} bytes in a turn`);
      assert.ok(small.most >= 512 && small.most < 512 + 253, `turnBytes 512: ${small.most} bytes in a turn`);
      assert.ok(def.turns < small.turns && small.turns < one.turns, `turns: ${def.turns} < ${small.turns} < ${one.turns}`);
    });

    it("has no per-byte JS loop on the receive path (bus reads, crc check, parse, payload decode)", function () {
      const ast: any = acorn.parse(readFileSync("dist/NotecardDFU.js", "utf8"), { ecmaVersion: 5 });
      const loops: string[] = [], blocks: string[] = [];
      // A loop that steps by a block of at least 64 bytes (a literal, or a step set to 384 times
      // something in its own init) is not per byte; nor is one that makes a bus read per turn.
      const step = (n: any) => n.update && n.update.type === "AssignmentExpression" && n.update.operator === "+=" && n.update.right;
      const setTo384 = (init: any, name: string) => (init && init.type === "SequenceExpression" ? init.expressions : [init]).some((e: any) =>
        e && e.type === "AssignmentExpression" && e.left.name === name && e.right.type === "BinaryExpression" && e.right.operator === "*" && e.right.left.value === 384);
      const perBlock = (n: any) => n.type === "ForStatement" && step(n)
        && ((step(n).type === "Literal" && step(n).value >= 64) || (step(n).type === "Identifier" && setTo384(n.init, step(n).name)));
      const reads = (n: any): boolean => !!n && typeof n.type === "string" && ((n.type === "CallExpression" && n.callee.name === "read")
        || Object.keys(n).some((k) => Array.isArray(n[k]) ? n[k].some(reads) : n[k] && typeof n[k].type === "string" && reads(n[k])));
      const walk = (n: any) => {
        if (!n || typeof n.type !== "string") return;
        if (perBlock(n)) blocks.push(n.type);
        else if (/^(For|While)Statement$/.test(n.type) && reads(n.body)) blocks.push("reads");
        else if (/^(For|ForIn|While|DoWhile)Statement$/.test(n.type)) loops.push(n.type);
        for (const k of Object.keys(n)) {
          const v = n[k];
          if (Array.isArray(v)) v.forEach(walk); else if (v && typeof v.type === "string") walk(v);
        }
      };
      for (const name of ["wireStep", "read", "parse", "payload", "onWire"]) {
        const fn = ast.body.find((n: any) => n.type === "FunctionDeclaration" && n.id.name === name);
        assert.ok(fn, name + " not found in the bundle");
        walk(fn);
      }
      assert.deepEqual(loops, []);
      assert.deepEqual(blocks, ["reads"], "reads back to back; the payload decoded in one native pass");
      // The check can fail: the resync drain does loop over the bytes it throws away.
      walk(ast.body.find((n: any) => n.type === "FunctionDeclaration" && n.id.name === "drained"));
      assert.deepEqual(loops, ["ForStatement"]);
    });
  });
});
