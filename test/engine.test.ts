// The update engine through the built bundle: resume after a host reset, cards with and without
// DFU mode, the keep-alive on a slow link, every gate, and every failure path leaving the Notecard
// out of DFU mode with the running image intact.
import { strict as assert } from "assert";
import { nodeNatives } from "../sim/natives";
import { resolve } from "path";
import { appImage, packageRoot, SimBoard } from "../sim/board";
import { PowerCut } from "../sim/power";
import { check, confirm, device, provision } from "./helpers/device";
import { schemaDir, validateExchange } from "./helpers/schema";

function bytes(src: string): Uint8Array {
  return new Uint8Array(Buffer.from(src, "latin1"));
}

/** A provisioned board running v1, with `version` staged on the Notecard. */
function ready(opts: { board?: string; notecard?: any; version?: string; size?: number; body?: any; type?: string } = {}) {
  const board = new SimBoard({ board: opts.board ?? "LINUX", notecard: opts.notecard });
  board.saveApp(appImage("1.0.0"));
  provision(board, device(board, "1.0.0"));
  board.boot();
  const src = appImage(opts.version ?? "2.0.0", { size: opts.size ?? 8000 });
  board.card.stage({ data: bytes(src), version: opts.version ?? "2.0.0", body: opts.body, type: opts.type });
  return { board, src };
}

function requests(board: SimBoard, name: string, filter: (r: any) => boolean = () => true) {
  return board.card.log.filter((l) => (l.req.req || l.req.cmd) === name && filter(l.req));
}

/** The running image is untouched: slot 0 still holds v1 and the record still boots it. */
function assertIntact(board: SimBoard) {
  const b = board.boot();
  assert.equal(b.ran, "1.0.0");
  assert.equal(board.card.hubMode, "periodic", "the Notecard was left in DFU mode");
}

describe("update engine (built bundle)", function () {
  describe("resume after a host reset", function () {
    // 1536-byte chunks end inside LINUX's 1 KiB pages: the journal then holds the last whole page;
    // PICO's slot 1 is a Storage file, journaled every 4 KiB.
    for (const [name, pct, size, chunk] of [["LINUX", 30, 40000, 2048], ["LINUX", 60, 40000, 2048], ["LINUX", 99, 40000, 2048], ["LINUX", 50, 40000, 1536], ["PICO", 30, 16000, 2048], ["PICO", 60, 16000, 2048], ["PICO", 99, 16000, 2048]] as [string, number, number, number][]) {
      it(`continues from the last committed page after a reset at ${pct} % (${name}, ${chunk}-byte chunks)`, function () {
        const { board, src } = ready({ board: name, size, notecard: { needsDfuMode: true, dfuEntryMs: 2000 } });
        const total = src.length;
        const events: string[] = [];
        const dfu = device(board, "1.0.0", {
          chunkSize: chunk,
          onProgress: (p: any) => { if (p.offset >= (total * pct) / 100) board.rail.down = true; }
        });
        assert.throws(() => check(board, dfu), PowerCut);
        board.boot();
        const before = requests(board, "dfu.get", (r) => r.length > 0).length;
        const { err, result } = check(board, device(board, "1.0.0", { chunkSize: chunk, onEvent: (t: string) => events.push(t) }));
        assert.equal(err, null, err && err.message);
        assert.equal(result.state, "updated");
        // At most a chunk and a resume step (a 1 KiB page, or 4 KiB of a Storage file) before the cut.
        assert.ok(result.resumedAt > 0 && result.resumedAt >= Math.floor((total * pct) / 100) - chunk - (name === "PICO" ? 4096 : 1024), `resumed at ${result.resumedAt}`);
        const fetched = requests(board, "dfu.get", (r) => r.length > 0).slice(before);
        assert.equal(fetched[0].req.offset, result.resumedAt);
        assert.ok(fetched.length <= Math.ceil((total - result.resumedAt) / chunk) + 1, `${fetched.length} chunks fetched after the reset`);
        assert.ok(!events.some((t) => /again/.test(t)), "the resumed copy verified without starting again: " + events.join(" | "));
        assert.equal(board.boot().ran, "2.0.0");
        assert.equal(board.card.hubMode, "periodic");
      });
    }

    // The default spacing: a resume point at the first page or 4 KiB of a file at least 16 KiB
    // past the last; on a Storage file the resumed copy finds up to 16 KiB already written.
    for (const name of ["LINUX", "JOLTJS"]) {
      it(`with the default spacing, resumes from the last point 16 KiB apart (${name})`, function () {
        const { board } = ready({ board: name, size: 40000 });
        const dfu = device(board, "1.0.0", { resumeEvery: undefined, chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 30000) board.rail.down = true; } });
        assert.throws(() => check(board, dfu), PowerCut);
        board.boot();
        const events: string[] = [];
        const { err, result } = check(board, device(board, "1.0.0", { resumeEvery: undefined, chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
        assert.equal(err, null, err && err.message);
        assert.equal(result.resumedAt, 16384);
        assert.ok(!events.some((t) => /again/.test(t)), events.join(" | "));
        assert.equal(board.boot().ran, "2.0.0");
      });
    }

    it("journals a resume point resumeEvery bytes apart, and at every page with 0", function () {
      const count = (resumeEvery: number | undefined) => {
        const { board } = ready({ size: 40000 });
        let records = 0;
        const write = board.flash.write.bind(board.flash);
        board.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) records++; return write(data, addr); };
        assert.equal(check(board, device(board, "1.0.0", { resumeEvery, chunkSize: 2048 })).result.state, "updated");
        return records;
      };
      const every = count(0), spaced = count(undefined), wide = count(65536);
      // 40000 bytes in 2 KiB chunks over 1 KiB pages: a resume point after each chunk (20, the
      // last at the end) with 0, 2 at 16 KiB, none at 64 KiB; besides them, one record before
      // DFU mode and the verified mark (a write of its own word).
      assert.equal(wide, 2);
      assert.equal(every - wide, 20);
      assert.equal(spaced - wide, 2);
    });

    it("starts again from 0 when the copied part no longer matches its journal", function () {
      const { board, src } = ready({ size: 20000 });
      const dfu = device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= src.length / 2) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      board.boot();
      board.flash.mem[0x1000f400 - 0x10000000 + 100] ^= 0x01; // a committed byte decays
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.equal(err, null);
      assert.equal(result.resumedAt, undefined);
      assert.deepEqual(events.slice(1, 3), ["check 8192", "no resume"]);
      assert.equal(board.boot().ran, "2.0.0");
    });
  });

  describe("DFU mode", function () {
    it("does not send hub.set mode:dfu when dfu.get already works, and still leaves DFU mode after the copy", function () {
      const { board } = ready({ notecard: { needsDfuMode: false } });
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "updated");
      assert.deepEqual(requests(board, "hub.set").map((r) => r.req.mode), ["dfu-completed"]);
    });

    it("enters DFU mode, waits for it, and leaves it when the card needs it", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 20000 } });
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "updated");
      const modes = requests(board, "hub.set").map((l) => l.req.mode);
      assert.deepEqual([modes[0], modes[modes.length - 1]], ["dfu", "dfu-completed"]);
      assert.ok(requests(board, "dfu.get", (r) => !r.length).length >= 3, "probes while DFU mode was not yet active");
      assert.equal(board.card.hubMode, "periodic");
    });

    it("keeps DFU mode alive through a copy longer than 15 minutes on a slow link", function () {
      const { board, src } = ready({ size: 56000, notecard: { needsDfuMode: true, dfuEntryMs: 1000, bitrate: 600 } });
      const t0 = board.clock.now;
      const { err, result } = check(board, device(board, "1.0.0"), 4 * 3600e3);
      assert.equal(err, null, err && err.message);
      assert.equal(result.state, "updated");
      assert.ok(board.clock.now - t0 > 15 * 60e3, `the copy took only ${(board.clock.now - t0) / 60e3} min`);
      assert.ok(requests(board, "hub.set", (r) => r.mode === "dfu").length >= 2, "no keep-alive was sent");
      assert.equal(board.boot().ran, "2.0.0");
      assert.ok(src.length > 50000);
    });

    it("refreshes DFU mode every keepAliveMs on its own, before the card's 15 minutes run out", function () {
      // A slow card (8 s per request) and a keep-alive every minute: the card's own 15 minutes are
      // never what keeps DFU mode on.
      const { board } = ready({ size: 30000, notecard: { needsDfuMode: true, dfuEntryMs: 0, latencyMs: 8000 } });
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, keepAliveMs: 60e3, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", err && err.message);
      assert.ok(!board.card.injected.dfuDrop, "the card never dropped DFU mode");
      assert.ok(!events.some((t) => /DFU mode lost/.test(t)), "never re-entered after a drop");
      assert.ok(board.clock.now > 4 * 60e3, "a copy of several minutes: " + board.clock.now);
      const refreshes = events.filter((t) => t === "keep-alive").length;
      assert.ok(refreshes >= Math.floor(board.clock.now / 60e3) - 2, `${refreshes} keep-alives in ${board.clock.now} ms`);
      assert.equal(requests(board, "hub.set", (r) => r.mode === "dfu").length, 1 + refreshes);
    });

    it("enters DFU mode again at the same offset when the card drops it mid-copy", function () {
      const { board } = ready({ size: 30000, notecard: { needsDfuMode: true, dfuEntryMs: 500, faults: { dfuDrop: 0.2 }, seed: 3 } });
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.equal(err, null, err && err.message);
      assert.equal(result.state, "updated");
      assert.ok((board.card.injected.dfuDrop ?? 0) > 0);
      assert.equal(board.boot().ran, "2.0.0");
      assert.equal(board.card.hubMode, "periodic");
    });
  });

  describe("flash and record integrity", function () {
    it("reads every write back: a bit that does not program fails the cycle cleanly, and the next one completes", function () {
      const { board } = ready({ size: 8000 });
      // A bit in slot 1 (0x1000f400 on LINUX) that will not program at the next write there.
      board.flash.stuck.push({ addr: 0x1000f400 + 1500, mask: 0x10, times: 1 });
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.match(err.message, /read-back mismatch at 1024/);
      assert.ok(board.card.image, "the Notecard keeps its image");
      assert.equal(board.card.hubMode, "periodic");
      assert.equal(board.boot().ran, "1.0.0");
      const again = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(again.result.state, "updated", again.err && again.err.message);
      assert.equal(board.boot().ran, "2.0.0");
    });

    it("checks each boot record's CRC on load: a record with a flipped bit is refused and the one before it counts", function () {
      const { board } = ready({ size: 6000 });
      check(board, device(board, "1.0.0"));
      assert.equal(device(board, "1.0.0").info().state, "pending");
      // The latest record, a progress record marked verified; one bit turns "progress" into
      // "progresr", still valid JSON.
      const mem = board.flash.mem, base = 0x1001e400 - 0x10000000, text = Buffer.from(mem.subarray(base, base + 8192)).toString("latin1");
      const at = text.lastIndexOf('"s":"progress"');
      assert.ok(at >= 0);
      mem[base + at + 12] ^= 0x01;
      assert.equal(device(board, "1.0.0").info().state, "progress", "the record before it, a resume point");
      assert.equal(board.boot().ran, "1.0.0", "the selector does not take it either");
    });
  });

  describe("events", function () {
    const staged = ["leave DFU mode", "verified", "staged in slot 1", "restart"];
    function run(board: SimBoard, version: string, options: any = {}) {
      const events: string[] = [];
      const out = check(board, device(board, version, Object.assign({ onEvent: (t: string) => events.push(t) }, options)));
      return Object.assign(out, { events });
    }

    it("reports each step of an update to onEvent, in order, and the report after confirm", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 2000 } });
      assert.deepEqual(run(board, "1.0.0", { chunkSize: 4096 }).events, ["update 2.0.0 to slot 1", "enter DFU mode", ...staged]);
      board.boot();
      confirm(board, device(board, "2.0.0"));
      assert.deepEqual(run(board, "2.0.0").events, ["report installed 2.0.0"]);
    });

    it("names the offset it checks and resumes from, and where DFU mode was lost", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 2000 } });
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 8192) board.rail.down = true; } })), PowerCut);
      board.boot();
      assert.deepEqual(run(board, "1.0.0", { chunkSize: 2048 }).events, ["update 2.0.0 to slot 1", "check 6144", "resume 6144", ...staged]);
      const dropped = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 500 } }).board;
      let once = 0;
      dropped.card.onRequest = (req: any) => { if (req.req === "dfu.get" && req.offset === 8192 && !once++) dropped.card.leaveDfuMode(); };
      assert.deepEqual(run(dropped, "1.0.0", { chunkSize: 2048 }).events, ["update 2.0.0 to slot 1", "enter DFU mode", "DFU mode lost at 10240", "enter DFU mode", ...staged]);
    });

    it("says why a chunk is asked for again, why the cycle ends, and whether it will retry", function () {
      const { board } = ready({ size: 6000 });
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 2048 ? Object.assign({}, rsp, { payload: rsp.payload.slice(4) }) : rsp);
      const bad = run(board, "1.0.0", { chunkSize: 2048 });
      const why = "payload is 2045 bytes, asked for 2048";
      // The card was in DFU mode already: the failure still takes it out.
      assert.deepEqual(bad.events, ["update 2.0.0 to slot 1", ...Array(5).fill("chunk 2048: " + why), "retry: chunk 2048 failed 6 times: " + why, "leave DFU mode"]);
      assert.equal(bad.err.message, "chunk 2048 failed 6 times: " + why);
      // With DFU mode entered, the failure leaves it first; the request that failed is named.
      const dfuMode = ready({ size: 6000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } }).board;
      dfuMode.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 2048 ? { err: "flash full" } : rsp);
      const failed = run(dfuMode, "1.0.0", { chunkSize: 2048 });
      assert.deepEqual(failed.events.slice(-3), ["chunk 2048: flash full", "retry: chunk 2048 failed 6 times: flash full", "leave DFU mode"]);
      assert.equal(dfuMode.card.hubMode, "periodic");
      const status = ready().board;
      status.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" ? { err: "no such thing {not-supported}" } : rsp);
      assert.equal(run(status, "1.0.0").err.message, "dfu.status: no such thing {not-supported}");
      const probe = ready().board;
      probe.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && !req.length ? { err: "storage busy" } : rsp);
      assert.equal(run(probe, "1.0.0").err.message, "dfu.get probe: storage busy");
      const old = ready({ version: "0.9.0" }).board;
      const refused = run(old, "1.0.0");
      assert.deepEqual(refused.events, ["failed: downgrade from 1.0.0 to 0.9.0 refused"]);
      assert.equal(refused.result.state, "failed");
    });
  });

  describe("what the module tells the Notecard and the caller", function () {
    it("sends the running version with the first dfu.status of a boot only", function () {
      const { board } = ready({ version: "1.0.0" });
      const dfu = device(board, "1.0.0");
      check(board, dfu);
      check(board, dfu);
      const sent = requests(board, "dfu.status", (r) => !r.stop).map((l) => l.req.version);
      assert.deepEqual(sent, ["1.0.0", undefined]);
    });

    it("answers a second check while one runs with a busy error and leaves the first alone", function () {
      const { board } = ready();
      const dfu = device(board, "1.0.0");
      let first: any = null, second: any = null;
      dfu.check((e: any, r: any) => { first = [e, r]; });
      dfu.check((e: any, r: any) => { second = [e, r]; });
      assert.ok(second, "answered at once");
      assert.equal(second[0].code, "busy");
      assert.equal(second[0].message, "check already running");
      assert.deepEqual(second[1], { state: "retry", error: "busy" });
      board.clock.runUntil(() => first !== null, 3600e3);
      assert.equal(first[1].state, "updated");
    });

    it("reports nothing to do as idle", function () {
      const board = new SimBoard({ board: "LINUX" });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(err, null);
      assert.equal(result.state, "idle");
    });

    it("refuses an image that was rolled back before when Notehub offers it again", function () {
      const { board, src } = ready();
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      for (let i = 0; i < 4; i++) board.boot();
      assert.equal(device(board, "1.0.0").info().state, "reverted");
      check(board, device(board, "1.0.0"));
      board.card.stage({ data: bytes(src), version: "2.0.0" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "failed");
      assert.equal(err.code, "refused");
      assert.equal(err.message, "image 2.0.0 was rejected before");
      assert.equal(board.boot().ran, "1.0.0");
      // A different build of the same version and length is not that image.
      board.card.stage({ data: bytes(src.replace("/*", "/*x").slice(0, src.length)), version: "2.0.0" });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
    });

    it("copies from a card that sends neither the crc field nor chunk MD5s without the add-on, relying on the whole-image CRC", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      board.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.get") delete rsp.status; return rsp; };
      const { err, result } = check(board, device(board, "1.0.0", { md5: undefined }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(board.boot().ran, "2.0.0");
    });

    it("erases each page of the target slot once per copy and nothing outside it, chunks ending inside pages", function () {
      // 1536-byte chunks over LINUX's 1 KiB pages: every other chunk starts inside a page that the
      // chunk before erased, and ends on a page boundary.
      const { board } = ready({ size: 20000 });
      const erased: number[] = [], erase = board.flash.erasePage.bind(board.flash);
      board.flash.erasePage = (addr: number) => { erased.push(addr); return erase(addr); };
      assert.equal(check(board, device(board, "1.0.0", { chunkSize: 1536 })).result.state, "updated");
      const slot = { addr: 0x1000f400, length: 61440 }, record = 0x1001e400;
      const inSlot = erased.filter((a) => a >= slot.addr && a < slot.addr + slot.length);
      assert.equal(inSlot.length, Math.ceil(20000 / 1024), `slot pages erased: ${inSlot.map((a) => a.toString(16)).join(" ")}`);
      assert.equal(new Set(inSlot).size, inSlot.length);
      assert.deepEqual(erased.filter((a) => !inSlot.includes(a) && a < record), []);
    });

    it("journals once per committed page, not once per chunk", function () {
      const { board, src } = ready({ size: 20000 });
      const total = src.length, writes: number[] = [], write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) writes.push(addr); return write(data, addr); };
      const progress: any[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 512, onProgress: (p: any) => progress.push(p) }));
      assert.equal(result.state, "updated");
      // 40 chunks of 512 bytes fill 20 pages of 1 KiB: about 20 progress records and a few others.
      assert.equal(progress.length, Math.ceil(total / 512));
      assert.ok(writes.length >= 20 && writes.length <= 28, `${writes.length} records`);
      progress.forEach((p, i) => {
        assert.deepEqual([p.phase, p.offset, p.total], ["copy", Math.min(total, (i + 1) * 512), total]);
        assert.ok(p.bytesPerSecond > 0 && p.bytesPerSecond < 1e6, JSON.stringify(p));
      });
      // The rate is bytes copied over the copy's own time: about what the bus allows at 100 kHz.
      const last = progress[progress.length - 1].bytesPerSecond;
      assert.ok(last > 3000 && last < 12500, `${last} bytes/s`);
    });
  });

  describe("decisions on the card's answers", function () {
    it("without the crc field, acts only on two identical dfu.status answers", function () {
      for (const [what, change] of [["mode", (r: any) => Object.assign({}, r, { mode: "downloading" })], ["body", (r: any) => Object.assign({}, r, { body: Object.assign({}, r.body, { length: r.body.length + 1 }) })], ["error", () => ({ err: "busy {io}" })]] as [string, (r: any) => any][]) {
        const { board } = ready({ notecard: { crc: false } });
        let n = 0;
        board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && !req.stop && ++n === 2 ? change(rsp) : rsp);
        const { err, result } = check(board, device(board, "1.0.0", { retries: 0 }));
        assert.equal(result.state, "retry", what);
        assert.equal(err.code, "io", what);
        assert.equal(err.message, "two dfu.status answers disagree", what);
        assert.ok(board.card.image, what);
      }
      const { board } = ready({ notecard: { crc: false } });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      assert.equal(requests(board, "dfu.status", (r) => !r.stop).length, 2, "asked twice");
      const crc = ready().board;
      check(crc, device(crc, "1.0.0"));
      assert.equal(requests(crc, "dfu.status", (r) => !r.stop).length, 1, "with the crc field, once");
    });

    it("with verifyMd5, checks the whole image against body.md5 in either case, needs the add-on, and skips a body without one", function () {
      const { board, src } = ready();
      const md5 = require("crypto").createHash("md5").update(Buffer.from(src, "latin1")).digest("hex");
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && rsp.body ? Object.assign({}, rsp, { body: Object.assign({}, rsp.body, { md5: md5.toUpperCase() }) }) : rsp);
      const upper = check(board, device(board, "1.0.0", { verifyMd5: true }));
      assert.equal(upper.result.state, "updated", upper.err && upper.err.message);
      const bare = ready().board;
      const without = check(bare, device(bare, "1.0.0", { verifyMd5: true, md5: undefined }));
      assert.equal(without.err.code, "refused");
      assert.equal(without.err.message, "verifyMd5 needs NotecardDFUMD5");
      assert.equal(without.result.state, "retry");
      assert.ok(bare.card.image);
      const none = ready().board;
      none.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status" && rsp.body) delete rsp.body.md5; return rsp; };
      assert.equal(check(none, device(none, "1.0.0", { verifyMd5: true, md5: undefined })).result.state, "updated");
    });

    it("drops a bad image only when a second dfu.status still describes it, and then ends the copy's journal", function () {
      const { board } = ready({ body: { length: 0 } });
      let n = 0;
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && !req.stop && ++n === 2 ? Object.assign({}, rsp, { mode: "idle" }) : rsp);
      const unsure = check(board, device(board, "1.0.0"));
      assert.equal(unsure.result.state, "retry");
      assert.equal(unsure.err.code, "io");
      assert.equal(unsure.err.message, "image description incomplete (not confirmed by a second dfu.status)");
      assert.ok(board.card.image && !board.card.reports.some((r: any) => r.req.stop), "nothing dropped");
      // A CRC mismatch found after the copy: dropped and reported, and the record no longer says "progress".
      const bad = ready({ body: { crc32: 1 } }).board;
      check(bad, device(bad, "1.0.0"));
      const { err, result } = check(bad, device(bad, "1.0.0"));
      assert.equal(result.state, "failed", err && err.message);
      assert.ok(bad.card.reports.some((r: any) => r.req.stop && /CRC-32/.test(String(r.req.err))));
      assert.equal(device(bad, "1.0.0").info().state, "confirmed");
      assert.equal(bad.boot().ran, "1.0.0");
    });

    it("installs the same version written differently (1.0 over 1.0.0): not a downgrade", function () {
      const { board } = ready({ version: "1.0" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "updated", err && err.message);
    });

    it("waits dfuWaitMs for DFU mode before it gives up", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      board.clock.advance(100e3); // the board has been up a while: the wait is measured from entering
      let first = -1;
      board.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.get" && first < 0) first = board.clock.now; return req.req === "dfu.get" ? { err: "DFU mode is not yet fully active {dfu-not-ready}" } : rsp; };
      const { err, result } = check(board, device(board, "1.0.0", { dfuWaitMs: 20000 }));
      assert.equal(result.state, "retry");
      assert.match(err.message, /^DFU mode not active after 20 s/);
      assert.ok(board.clock.now - first >= 20000 && board.clock.now - first < 30000, `${board.clock.now - first} ms`);
    });

    it("reads a dfu.status without mode as idle, an error mode without status as a DFU error, and a null version as none", function () {
      const noMode = ready().board;
      noMode.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status") delete rsp.mode; return rsp; };
      assert.equal(check(noMode, device(noMode, "1.0.0")).result.state, "idle");
      const error = ready().board;
      error.card.dfuMode = "error";
      error.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status") delete rsp.status; return rsp; };
      const e = check(error, device(error, "1.0.0")).result;
      assert.deepEqual([e.state, e.error], ["error", "DFU error"]);
      const nullVersion = ready({ body: { version: null } }).board;
      const n = check(nullVersion, device(nullVersion, "1.0.0")).result;
      assert.deepEqual([n.state, n.version], ["updated", ""]);
    });

    it("journals the image's very end after its last chunk: a reset then fetches nothing again", function () {
      const { board, src } = ready({ size: 20001 });
      const total = src.length, write = board.flash.write.bind(board.flash);
      // Power fails right after the journal record that says the whole image is in the slot.
      board.flash.write = (data: any, addr: number) => {
        write(data, addr);
        if (addr >= 0x1001e400 && Buffer.from(data).toString("latin1").indexOf('"o":' + total + ",") >= 0) board.rail.down = true;
      };
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048 })), PowerCut);
      board.flash.write = write;
      board.boot();
      const before = requests(board, "dfu.get", (r) => r.length > 0).length;
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.equal(result.state, "updated");
      assert.equal(result.resumedAt, total);
      assert.equal(requests(board, "dfu.get", (r) => r.length > 0).length, before, "nothing fetched again");
    });

    it("does not resume from a journal that never got past offset 0", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      board.card.onRequest = (req: any) => { if (req.req === "dfu.get" && req.length > 0) board.rail.down = true; };
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048 })), PowerCut);
      board.card.onRequest = undefined;
      board.boot();
      const events: string[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated");
      assert.equal(result.resumedAt, undefined);
      assert.ok(!events.some((t) => /^(check|resume) /.test(t)), events.join(" | "));
    });

    it("after a resume, a whole-image CRC mismatch is still the first one: copied again, not refused", function () {
      const { board } = ready({ size: 20000 });
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 8192) board.rail.down = true; } })), PowerCut);
      board.boot();
      let once = 0;
      // One chunk after the resume carries another offset's bytes (its crc field is right).
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 12288 && !once++ ? Object.assign({}, rsp, { payload: rsp.payload.replace(/^..../, "AAAA") }) : rsp);
      const first = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.ok(first.result.resumedAt > 0);
      assert.equal(first.result.state, "retry");
      assert.match(first.err.message, /copying it again$/);
      assert.equal(check(board, device(board, "1.0.0", { chunkSize: 2048 })).result.state, "updated");
    });

    it("names a chunk's MD5 failures as io errors, the copy's rate after a resume from where it resumed, and an exception as internal", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 2048 ? Object.assign({}, rsp, { status: "0123456789abcdef0123456789abcdef" }) : rsp);
      const md5 = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(md5.err.code, "io");
      assert.match(md5.err.message, /^chunk 2048 failed 6 times: MD5 mismatch/);
      const resumed = ready({ size: 20000 }).board;
      assert.throws(() => check(resumed, device(resumed, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 12288) resumed.rail.down = true; } })), PowerCut);
      resumed.boot();
      const rates: number[] = [];
      check(resumed, device(resumed, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => rates.push(p.bytesPerSecond) }));
      assert.ok(rates.length > 0 && rates.every((r) => r > 1000 && r < 12500), rates.join(", "));
      const thrown = ready({ size: 8000 }).board;
      let n = 0;
      const ex = check(thrown, device(thrown, "1.0.0", { chunkSize: 2048, onProgress: () => { if (++n === 2) throw new Error("oops"); } }));
      assert.equal(ex.err.code, "internal");
      assert.equal(ex.err.message, "exception: oops");
    });

    it("measures the copy's rate over the whole copy, waits for DFU mode included", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 20000 } });
      let once = 0;
      board.card.onRequest = (req: any) => { if (req.req === "dfu.get" && req.offset === 10240 && !once++) board.card.leaveDfuMode(); };
      const rates: number[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => rates.push(p.bytesPerSecond) }));
      assert.equal(result.state, "updated");
      // About 20 KB over the copy and a 20 s wait to enter DFU mode again: well under 2 KB/s.
      assert.ok(rates[rates.length - 1] < 2000, rates.join(", "));
    });

    it("takes the Notecard out of DFU mode after resuming a copy, also when it was in DFU mode without being asked", function () {
      const { board } = ready({ size: 20000 });
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 8192) board.rail.down = true; } })), PowerCut);
      board.boot();
      const events: string[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated");
      assert.equal(events.filter((t) => t === "leave DFU mode").length, 1, events.join(" | "));
      assert.deepEqual(requests(board, "hub.set").map((r) => r.req.mode), ["dfu-completed"]);
    });

    it("reports an installed image once, keeps a download Notehub staged meanwhile, and reports again after a failed report", function () {
      const { board } = ready({ size: 6000 });
      check(board, device(board, "1.0.0"));
      board.boot();
      confirm(board, device(board, "2.0.0"));
      // The report fails once ({io} and no retries), then goes through; the card is downloading 3.0.0 meanwhile.
      let fails = 1;
      board.card.dfuMode = "downloading";
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && req.status && fails-- > 0 ? { err: "busy {io}" } : rsp);
      check(board, device(board, "2.0.0", { retries: 0 }));
      check(board, device(board, "2.0.0", { retries: 0 }));
      check(board, device(board, "2.0.0", { retries: 0 }));
      const reports = requests(board, "dfu.status", (r) => r.status === "installed 2.0.0");
      assert.equal(reports.length, 2, "once failed, once through, then no more");
      assert.ok(reports.every((l) => !l.req.stop), "no stop:true while Notehub's next image downloads");
    });

    it("asks a crc-less card twice only when it says an image is ready", function () {
      const board = new SimBoard({ board: "LINUX", notecard: { crc: false } });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "idle");
      assert.equal(requests(board, "dfu.status").length, 1);
    });

    it("gives a body without version no version, and says why an unprovisioned board did nothing", function () {
      const { board } = ready({ body: { version: undefined } });
      board.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status" && rsp.body) delete rsp.body.version; return rsp; };
      const r = check(board, device(board, "1.0.0")).result;
      assert.equal(r.version, "");
      const bare = new SimBoard({ board: "LINUX" });
      const u = check(bare, device(bare, "1.0.0"));
      assert.deepEqual([u.result.state, u.result.error, u.err.code], ["unprovisioned", "not provisioned", "layout"]);
    });

    it("fails cleanly when the journal before DFU mode or the staged record cannot be written, and leaves DFU mode once", function () {
      for (const nth of [1, 0]) {
        const { board } = ready({ size: 6000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
        const write = board.flash.write.bind(board.flash);
        let records = 0, total = 0;
        // Count the record writes of a clean run first, then fail the nth (0: the last, "verified").
        board.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) { records++; if (records === (nth || total)) throw new Error("Flash write failed"); } return write(data, addr); };
        if (!nth) {
          const probe = ready({ size: 6000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } }).board;
          const w = probe.flash.write.bind(probe.flash);
          probe.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) total++; return w(data, addr); };
          check(probe, device(probe, "1.0.0", { chunkSize: 2048 }));
        }
        const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
        assert.equal(result.state, "retry", "record " + (nth || total));
        assert.equal(err.code, "flash");
        assert.equal(board.card.hubMode, "periodic");
        assert.ok(requests(board, "hub.set", (r) => r.mode === "dfu-completed").length <= 1);
        assert.equal(board.boot().ran, "1.0.0");
      }
    });

    it("leaves the boot record alone when it refuses an image before copying it", function () {
      const { board } = ready({ version: "0.9.0" });
      const write = board.flash.write.bind(board.flash);
      let records = 0;
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) records++; return write(data, addr); };
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "failed");
      assert.equal(records, 0);
    });

    it("with verifyMd5, checks an image in a Storage-file slot too", function () {
      const { board } = ready({ board: "PICO", size: 6000 });
      const { err, result } = check(board, device(board, "1.0.0", { verifyMd5: true }));
      assert.equal(result.state, "updated", err && err.message);
      const bad = ready({ board: "PICO", size: 6000, body: { md5: "0123456789abcdef0123456789abcdef" } }).board;
      assert.equal(check(bad, device(bad, "1.0.0", { verifyMd5: true })).err.message, "image MD5 mismatch");
    });

    it("takes the card out of DFU mode after a reset mid-copy, even when no update follows", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 8192) board.rail.down = true; } })), PowerCut);
      board.boot();
      assert.equal(board.card.hubMode, "dfu", "the card stayed in DFU mode");
      board.card.dfuMode = "idle";
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "idle");
      assert.equal(board.card.hubMode, "periodic");
    });

    it("enters DFU mode at most 10 times in a cycle, then gives up", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 100 } });
      board.card.onRequest = (req: any) => { if (req.req === "dfu.get" && req.length > 0) board.card.leaveDfuMode(); };
      const { err } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(err.message, "DFU mode lost 10 times");
      assert.equal(requests(board, "hub.set", (r) => r.mode === "dfu").length, 10);
      assert.equal(board.card.hubMode, "periodic");
    });

    it("retries a chunk that fails its checks on a card without crc (the MD5 check is for whole chunks only)", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      let once = 0;
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 2048 && !once++ ? Object.assign({}, rsp, { payload: rsp.payload.slice(0, -8) }) : rsp);
      const events: string[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated");
      assert.ok(events.includes("chunk 2048: payload is 2043 bytes, asked for 2048"), events.join(" | "));
    });

    it("fails cleanly when a report cannot be marked in its record, and reports again next time", function () {
      const { board } = ready({ size: 6000 });
      check(board, device(board, "1.0.0"));
      board.boot();
      confirm(board, device(board, "2.0.0"));
      const write = board.flash.write.bind(board.flash);
      let fail = true;
      board.flash.write = (data: any, addr: number) => {
        // The mark: the latest record's last word, zeroed.
        if (fail && addr >= 0x1001e400 && data.length === 4 && (addr - 0x1001e400 + 4) % 256 === 0) { fail = false; throw new Error("Flash write failed"); }
        return write(data, addr);
      };
      const { err, result } = check(board, device(board, "2.0.0"));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      check(board, device(board, "2.0.0"));
      assert.equal(requests(board, "dfu.status", (r) => r.status === "installed 2.0.0").length, 2);
    });

    it("resumes only the same image into the same slot from a journal past its start", function () {
      const cut = (board: SimBoard) => {
        assert.throws(() => check(board, device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= 8192) board.rail.down = true; } })), PowerCut);
        board.boot();
      };
      const again = (board: SimBoard) => {
        const events: string[] = [];
        const out = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
        assert.equal(out.result.state, "updated", out.err && out.err.message);
        return { events, resumedAt: out.result.resumedAt };
      };
      // The same image: resumed.
      let { board, src } = ready({ size: 20000 });
      cut(board);
      assert.equal(again(board).resumedAt, 6144);
      // Another build of the same length, or of another length: copied from the start, nothing checked.
      for (const other of [src.replace("/*", "/*x").slice(0, src.length), src + "//"]) {
        ({ board, src } = ready({ size: 20000 }));
        cut(board);
        board.card.stage({ data: bytes(other), version: "2.0.0" });
        const r = again(board);
        assert.equal(r.resumedAt, undefined);
        assert.ok(!r.events.some((t) => /^check /.test(t)), r.events.join(" | "));
        assert.equal(board.boot().ran, "2.0.0");
      }
    });
  });

  describe("slot writer", function () {
    const SLOT = [0x10000400 - 0x10000000, 0x1000f400 - 0x10000000], LEN = 61440;
    /** An application of exactly `size` bytes. */
    const exact = (version: string, size: number) => { const a = appImage(version, { size }); return a + " ".repeat(size - a.length); };
    const held = (board: SimBoard, slot: number, src: string) => Buffer.from(board.flash.mem.subarray(SLOT[slot], SLOT[slot] + src.length)).toString("latin1") === src;

    it("keeps the previous image byte for byte, even under an image that fills its slot in chunks that end inside pages", function () {
      const { board, src: v2 } = ready({ size: 9000 });
      const v1 = appImage("1.0.0");
      assert.equal(check(board, device(board, "1.0.0", { chunkSize: 1536 })).result.state, "updated");
      assert.equal(board.boot().ran, "2.0.0");
      assert.ok(held(board, 0, v1), "slot 0 still holds 1.0.0 for a rollback");
      confirm(board, device(board, "2.0.0"));
      // 3.0.0 fills slot 0 to its last byte; slot 1 (running 2.0.0) begins right after it.
      const v3 = exact("3.0.0", LEN);
      assert.equal(v3.length, LEN);
      board.card.stage({ data: bytes(v3), version: "3.0.0" });
      const { err, result } = check(board, device(board, "2.0.0", { chunkSize: 1536 }));
      assert.equal(result.state, "updated", err && err.message);
      assert.ok(held(board, 1, v2), "slot 1 still holds 2.0.0");
      assert.ok(held(board, 0, v3));
      assert.equal(board.boot().ran, "3.0.0");
      // And back into slot 1, over 2.0.0's pages: each erased before it is written, nothing else.
      confirm(board, device(board, "3.0.0"));
      const v4 = exact("4.0.0", 20000);
      board.card.stage({ data: bytes(v4), version: "4.0.0" });
      const again = check(board, device(board, "3.0.0", { chunkSize: 1536 }));
      assert.equal(again.result.state, "updated", again.err && again.err.message);
      assert.ok(held(board, 0, v3), "slot 0 still holds 3.0.0");
      assert.ok(held(board, 1, v4));
      assert.equal(board.boot().ran, "4.0.0");
    });

    it("writes an image whose length is not a multiple of four (the last word padded)", function () {
      for (const size of [6001, 6002, 6003]) {
        const { board } = ready();
        const src = exact("2.0.0", size);
        board.card.stage({ data: bytes(src), version: "2.0.0" });
        const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
        assert.equal(result.state, "updated", err && err.message);
        assert.ok(held(board, 1, src));
        assert.equal(board.flash.mem[SLOT[1] + size], 0xff, "padding stays erased");
        assert.equal(board.boot().ran, "2.0.0");
      }
    });

    it("makes room in Storage before DFU mode: the old slot file goes and Storage compacts then, never during the copy", function () {
      const { board, src } = ready({ board: "PUCKJS", size: 7168, notecard: { needsDfuMode: true } });
      // Trash ahead of the update: a file saved and erased, as an app might.
      board.storage.write("log", "x".repeat(board.storage.getFree() - 100));
      board.storage.erase("log");
      const events: string[] = [];
      const compact = board.storage.compact.bind(board.storage);
      board.storage.compact = () => { events.push("COMPACT"); return compact(); };
      const { err, result } = check(board, device(board, "1.0.0", { onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", err && err.message);
      assert.deepEqual(events.filter((t) => /COMPACT|compact Storage/.test(t)), ["compact Storage", "COMPACT"], events.join(" | "));
      assert.ok(events.indexOf("COMPACT") < events.indexOf("enter DFU mode"), events.join(" | "));
      assert.equal(board.storage.compactions, 1, "no implicit compaction in the copy");
      assert.equal(board.storage.read("dfu.1"), src);
      assert.equal(board.boot().ran, "2.0.0");
      // With room enough, none.
      const roomy = ready({ board: "JOLTJS", size: 7168 });
      check(roomy.board, device(roomy.board, "1.0.0"));
      assert.equal(roomy.board.storage.compactions, 0);
    });

    /** Installs and confirms the staged v2 (into the Pico's slot 1, the Storage file) and stages a v3, which goes to slot 0 (the sector); returns the running version. */
    function toPicoSlot0(board: SimBoard, size: number): string {
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      board.boot();
      confirm(board, device(board, "2.0.0"));
      check(board, device(board, "2.0.0")); // reports "installed 2.0.0" (a record of its own)
      board.card.stage({ data: bytes(appImage("3.0.0", { size })), version: "3.0.0" });
      return "2.0.0";
    }

    // Room for what the update writes to Storage up to confirm or a revert after its restart: the
    // new slot file (header and padding) and, with one record per 256-byte record file, a file for
    // each append: before DFU mode, every 4 KiB resume point (the last at the end) and a revert's
    // (verified, the trial boots, confirm and the report are marks in place; an 8 KiB file: 4).
    // The first is checked for before that record, the rest after it, once the slot's old file
    // and the older record file are gone.
    const roomCases: [string, string, number, number, number?][] = [
      ["a Storage-file slot (PUCKJS)", "PUCKJS", 8192, 8192 + 36 + 4 * (256 + 32), 0],
      // With the default resumeEvery, an 8 KiB copy has no resume point: 2 files.
      ["a Storage-file slot, default resumeEvery (PUCKJS)", "PUCKJS", 8192, 8192 + 36 + 2 * (256 + 32), undefined],
      // resumeEvery equal to the 4 KiB step: 8000 bytes have one resume point (4096; the end is
      // only 3904 bytes further): 3 files.
      ["a Storage-file slot, resumeEvery one 4 KiB step (PUCKJS)", "PUCKJS", 8000, 8000 + 36 + 3 * (256 + 32), 4096],
      // The Pico's slot 0 is one 128 KB sector, a single resume point at the end: 3 appends, four
      // per 1 KB record file. Provisioning (1) and the v2 update (a record at 0 and one per 4 KiB
      // of its 20,000 bytes: 6) leave one record free in the current file: the first record
      // fills it, the other two start one new file.
      ["a raw slot with record files (PICO slot 0)", "PICO", 20000, 1024 + 32, 0]
    ];
    for (const [what, name, size, need, resumeEvery] of roomCases) {
      it(`compacts before the copy exactly when Storage's free tail is short of what the update writes there: ${what}`, function () {
        for (const [free, compacts] of [[need, false], [need - 4, true]] as [number, boolean][]) {
          const { board } = ready({ board: name, size, notecard: { needsDfuMode: true } });
          const running = name === "PICO" ? toPicoSlot0(board, size) : "1.0.0";
          board.storage.write("gone", "g".repeat(64));
          board.storage.erase("gone");
          board.storage.write("fill", "f".repeat(board.storage.getFree() - free - 32));
          assert.equal(board.storage.getFree(), free);
          const events: string[] = [];
          const compact = board.storage.compact.bind(board.storage);
          board.storage.compact = () => { events.push("COMPACT"); return compact(); };
          const { err, result } = check(board, device(board, running, { resumeEvery, onEvent: (t: string) => events.push(t) }));
          assert.equal(result.state, "updated", err && err.message);
          // Planned or not at all: never a compaction that a write of the update ran.
          assert.deepEqual(events.filter((t) => /COMPACT|compact Storage/.test(t)), compacts ? ["compact Storage", "COMPACT"] : [], `free ${free}, need ${need}: ${events.join(" | ")}`);
        }
      });
    }

    it("keeps one record file on Storage: the older one goes once the other holds the latest record", function () {
      const { board } = ready({ board: "PUCKJS", size: 8000 });
      const files = () => board.storage.list().filter((f) => /^dfu\.r[01]$/.test(f)).length;
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      assert.equal(files(), 1, "after the update");
      // The trial boot and confirm are marks in the latest record.
      assert.equal(board.boot().ran, "2.0.0");
      assert.equal(files(), 1, "after the trial boot");
      confirm(board, device(board, "2.0.0"));
      assert.equal(files(), 1, "after confirm");
      assert.equal(device(board, "2.0.0").info().state, "confirmed");
      assert.equal(board.boot().ran, "2.0.0");
      const older = board.storage.list().filter((f) => /^dfu\.r[01]$/.test(f))[0];
      // A cycle that ends after one record (the chunks keep failing): that record is in the other
      // file, and the older one went.
      board.card.stage({ data: bytes(appImage("3.0.0", { size: 8000 })), version: "3.0.0" });
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.length > 0 ? { err: "flash busy" } : rsp);
      assert.equal(check(board, device(board, "2.0.0", { chunkRetries: 0 })).result.state, "retry");
      assert.equal(device(board, "2.0.0").info().state, "progress");
      assert.deepEqual(board.storage.list().filter((f) => /^dfu\.r[01]$/.test(f)), [older === "dfu.r0" ? "dfu.r1" : "dfu.r0"]);
      // Its two records later, one file again.
      board.card.mutate = undefined;
      assert.equal(check(board, device(board, "2.0.0")).result.state, "updated");
      assert.equal(files(), 1, "after the next update");
    });

    it("erases a file a torn header left also where the slots are Storage files and the record is raw (LINUX)", function () {
      const layout = { slots: [{ file: "dfu.0", length: 16384 }, { file: "dfu.1", length: 16384 }], record: { addr: 0x1001e400, length: 8192 }, reserve: { file: "dfu.area", length: 132064 } };
      const board = new SimBoard({ board: "LINUX" });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0", { layout, storageAddr: 0x10000000 }));
      board.card.stage({ data: bytes(appImage("2.0.0", { size: 8000 })), version: "2.0.0" });
      board.storage.write("dfu\xff\xff", "x".repeat(100));
      assert.equal(check(board, device(board, "1.0.0", { layout })).result.state, "updated");
      assert.equal(board.storage.read("dfu\xff\xff"), undefined);
    });

    // The first record's file, before the rest: with exactly its room free no compaction comes
    // before it; 4 bytes less and the planned one does, so that the record's write never runs an
    // implicit one. On PUCKJS a file holds one record; on the Pico four: there provisioning and
    // v2 of 8,000 bytes (a record at 0 and at its two 4 KiB resume points at resumeEvery 0; its
    // trial boot and confirm are marks) fill the current file, so v3's first record (into slot 0,
    // the sector) starts a new one. After it, PUCKJS needs room for the slot's new file (so the
    // planned compaction comes then); the Pico's new record file holds the rest of that update.
    const firstRecordCases: [string, number, number, (b: SimBoard) => string, string[]][] = [
      ["PUCKJS", 8192, 256 + 32, () => "1.0.0", ["RECORD", "compact Storage", "COMPACT"]],
      ["PICO", 8000, 1024 + 32, (b) => toPicoSlot0(b, 8000), ["RECORD"]]
    ];
    for (const [name, size, file, run, roomy] of firstRecordCases) {
      it(`makes room for the copy's first record file before writing it (${name}, ${file}-byte record files)`, function () {
        for (const [free, before] of [[file, false], [file - 4, true]] as [number, boolean][]) {
          const { board } = ready({ board: name, size, notecard: { needsDfuMode: true } });
          const running = run(board);
          // Trash enough for the whole update, then a free tail of `free` bytes.
          board.storage.write("gone", "g".repeat(name === "PICO" ? 3000 : 9000));
          board.storage.erase("gone");
          board.storage.write("fill", "f".repeat(board.storage.getFree() - free - 32));
          assert.equal(board.storage.getFree(), free);
          const events: string[] = [];
          const compact = board.storage.compact.bind(board.storage), write = board.storage.write.bind(board.storage);
          board.storage.compact = () => { events.push("COMPACT"); return compact(); };
          board.storage.write = (n: string, data: any, offset?: number, sz?: number) => { if (/^dfu\.r/.test(n) && !offset) events.push("RECORD"); return write(n, data, offset, sz); };
          const { err, result } = check(board, device(board, running, { onEvent: (t: string) => events.push(t) }));
          assert.equal(result.state, "updated", err && err.message);
          const seen = events.filter((t) => /COMPACT|compact Storage|RECORD/.test(t));
          // Planned each time: before the first record when its file would not fit, else only where the rest needs it.
          assert.deepEqual(seen.slice(0, 3), before ? ["compact Storage", "COMPACT", "RECORD"] : roomy, `free ${free}: ${seen.join(" | ")}`);
        }
      });
    }

    // What a cut in a new file's header leaves when its size was written and its name only in part.
    const strayCases: [string, string, string, number, boolean][] = [
      ["a slot file's name half written (PUCKJS: its 8 KB would block every later update)", "PUCKJS", "dfu\xff\xff\xff", 8000, true],
      ["no byte of the name written", "PUCKJS", "\xff\xff\xff\xff", 100, true],
      ["a record file's, where the slot is raw (PICO slot 0)", "PICO", "dfu.\xff\xff", 500, true],
      ["on a raw layout, which writes no Storage file during an update, it stays (LINUX)", "LINUX", "dfu\xff", 100, false]
    ];
    for (const [what, name, stray, size, erased] of strayCases) {
      it(`erases a file a torn header left (its name holds 0xFF) before making room: ${what}`, function () {
        const { board } = ready({ board: name, size: name === "PUCKJS" ? 8192 : 16000 });
        const running = name === "PICO" ? toPicoSlot0(board, 16000) : "1.0.0";
        board.storage.write(stray, "x".repeat(size));
        board.storage.write("app-log", "kept");
        const { err, result } = check(board, device(board, running));
        assert.equal(result.state, "updated", err && err.message);
        assert.equal(board.storage.read(stray) === undefined, erased);
        assert.equal(board.storage.read("app-log"), "kept", "other files stay");
      });
    }

    it("never compacts Storage for a raw slot, however little room Storage has", function () {
      const { board } = ready({ size: 20000 });
      board.storage.write("gone", "g".repeat(64));
      board.storage.erase("gone");
      board.storage.write("fill", "f".repeat(board.storage.getFree() - 100));
      let calls = 0;
      board.storage.compact = () => { calls++; return true; };
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      assert.equal(calls, 0);
      assert.equal(board.boot().ran, "2.0.0");
    });

    it("resumes a Storage-file slot whose chunk after the journal was never written", function () {
      const { board, src } = ready({ board: "PICO", size: 7000 });
      const dfu = device(board, "1.0.0", { chunkSize: 1024, onProgress: (p: any) => { if (p.offset >= 5120) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      board.boot();
      // As if the reset came after the journal (4 KiB) but before the next chunk reached the file.
      (board.storage.fileBytes("dfu.1") as Uint8Array).fill(0xff, 4096);
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(result.resumedAt, 4096);
      assert.ok(!events.some((t) => /again/.test(t)), events.join(" | "));
      assert.equal(Buffer.from(board.storage.fileBytes("dfu.1") as Uint8Array).toString("latin1").substr(0, src.length), src);
    });

    it("fails the cycle cleanly, with the flash's own words, when a slot page cannot be written", function () {
      const { board } = ready();
      const write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x1000f400 + 2048 && addr < 0x1001e400) throw new Error("Flash write timeout"); return write(data, addr); };
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "Flash write timeout");
      assert.ok(board.card.image);
      assert.equal(board.boot().ran, "1.0.0");
    });

    it("fails the cycle cleanly when Storage refuses a slot file's write", function () {
      const { board } = ready({ board: "PICO", size: 7000 });
      const write = board.storage.write.bind(board.storage);
      board.storage.write = (name: string, data: any, offset?: number, size?: number) => (name === "dfu.1" && offset ? false : write(name, data, offset, size));
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "Storage.write failed");
      assert.equal(board.boot().ran, "1.0.0");
    });

    it("keeps the record file with the latest record when Storage refuses the next one", function () {
      const { board } = ready({ board: "PUCKJS", size: 8000 });
      const write = board.storage.write.bind(board.storage);
      board.storage.write = (name: string, data: any, offset?: number, size?: number) => (/^dfu\.r/.test(name) ? false : write(name, data, offset, size));
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "record: Storage.write failed");
      board.storage.write = write;
      assert.equal(device(board, "1.0.0").info().state, "confirmed");
      assert.equal(board.boot().ran, "1.0.0");
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
    });

    // A raw slot 0, a raw slot 1, or a raw record alone is enough to be refused.
    const rawLayouts: [string, string, any][] = [
      ["the LINUX profile (all raw)", "LINUX", undefined],
      ["the PICO profile (slot 0 raw)", "PICO", undefined],
      ["slot 1 raw (PICO)", "PICO", { slots: [{ file: "dfu.0", length: 16384 }, { addr: 0x08060000, length: 131072 }], record: { files: ["dfu.r0", "dfu.r1"], length: 1024 } }],
      ["Storage-file slots, a raw record in the reservation (LINUX)", "LINUX", { slots: [{ file: "dfu.0", length: 16384 }, { file: "dfu.1", length: 16384 }], record: { addr: 0x1001e400, length: 8192 }, reserve: { file: "dfu.area", length: 132064 } }]
    ];
    for (const [what, name, layout] of rawLayouts) {
      it(`the Storage-only build refuses a raw layout, and touches nothing: ${what}`, function () {
        const board = new SimBoard({ board: name });
        board.saveApp(appImage("1.0.0"));
        // Custom layouts: the Pico's Storage is mapped, and Linux's place is the profile's `storage`.
        provision(board, device(board, "1.0.0", layout ? { layout, memoryMapped: name === "PICO", storageAddr: name === "LINUX" ? 0x10000000 : undefined } : {}));
        board.card.stage({ data: bytes(appImage("2.0.0", { size: 8000 })), version: "2.0.0" });
        const StorageOnly = require(resolve(packageRoot(), "dist/storage/NotecardDFU.js"));
        const flash = Buffer.from(board.flash.mem);
        const dfu = StorageOnly.setup(Object.assign(board.ports(), layout ? { layout } : { board: name }, { version: "1.0.0" }));
        const { err, result } = check(board, dfu);
        assert.equal(result.state, "retry");
        assert.equal(err.code, "layout");
        assert.equal(err.message, "raw flash: needs the full build");
        assert.ok(flash.equals(Buffer.from(board.flash.mem)), "flash and Storage unchanged");
        assert.ok(board.card.image, "the Notecard keeps its image");
        assert.equal(check(board, device(board, "1.0.0", layout ? { layout } : {})).result.state, "updated", "the full build updates it");
      });

      it(`the Storage-only install module refuses a raw layout before it touches anything: ${what}`, function () {
        const board = new SimBoard({ board: name });
        board.saveApp(appImage("1.0.0"));
        const StorageOnly = require(resolve(packageRoot(), "dist/storage/NotecardDFUInstall.js"));
        const flash = Buffer.from(board.flash.mem), files = board.storage.list();
        const opts = Object.assign(board.ports(), layout ? { layout, memoryMapped: name === "PICO", storageAddr: name === "LINUX" ? 0x10000000 : undefined } : { board: name }, { version: "1.0.0" });
        let err: any = null;
        StorageOnly.provision(opts, undefined, (e: any) => { err = e; });
        board.clock.runUntil(() => err !== null, 60e3);
        assert.deepEqual([err && err.code, err && err.message], ["layout", "raw flash: needs the full build"]);
        assert.throws(() => StorageOnly.installBoot(opts), /raw flash: needs the full build/);
        assert.ok(flash.equals(Buffer.from(board.flash.mem)), "flash unchanged");
        assert.deepEqual(board.storage.list(), files, "Storage unchanged");
      });
    }

    it("fails the cycle cleanly when a boot record cannot be written", function () {
      const { board } = ready();
      const write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x1001e400) throw new Error("Flash write failed"); return write(data, addr); };
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "record: Flash write failed");
      assert.ok(board.card.image, "the Notecard keeps its image");
      assert.equal(board.card.hubMode, "periodic");
    });

    it("starts a Storage-file slot again when, after a reset, it holds other bytes past the journal", function () {
      const { board, src } = ready({ board: "PICO", size: 7000 });
      const dfu = device(board, "1.0.0", { chunkSize: 1024, onProgress: (p: any) => { if (p.offset >= 6144) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      board.boot();
      // Past the journaled offset (4096), in the second chunk after it: bytes that are not the image's.
      const name = board.storage.list().find((f) => /^dfu\.1$/.test(f)) as string;
      const file = board.storage.fileBytes(name) as Uint8Array;
      file.fill(0x55, 5200, 5216);
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", (err && err.message) + " / " + events.join(" | "));
      assert.ok(events.some((t) => /copy again: slot holds other data/.test(t)), events.join(" | "));
      assert.equal(board.boot().ran, "2.0.0");
      assert.equal(Buffer.from(board.storage.fileBytes(name) as Uint8Array).toString("latin1").substr(0, src.length), src);
    });
  });

  describe("boot record format", function () {
    // LINUX keeps its records raw at 0x1001e400: two units of 4 KiB, 256-byte records, each
    // [CRC-32 LE][length LE16][JSON] with the CRC over the length and the JSON.
    const UNIT = [0x1001e400 - 0x10000000, 0x1001f400 - 0x10000000], SIZE = 256;
    function scan(board: SimBoard) {
      const mem = board.flash.mem, found: { u: number; i: number; q: number; json: string; crc: boolean; reported: boolean }[] = [], free = [-1, -1];
      for (let u = 0; u < 2; u++) {
        for (let i = 0; i < 4096 / SIZE; i++) {
          const rec = mem.subarray(UNIT[u] + i * SIZE, UNIT[u] + (i + 1) * SIZE);
          if (rec.every((b) => b === 0xff)) { if (free[u] < 0) free[u] = i; continue; }
          const n = rec[4] | (rec[5] << 8), json = Buffer.from(rec.subarray(6, 6 + n)).toString("latin1");
          const crc = (rec[0] | (rec[1] << 8) | (rec[2] << 16) | (rec[3] << 24)) >>> 0;
          const reported = rec.subarray(SIZE - 4).some((b) => b !== 0xff);
          try { found.push({ u, i, q: JSON.parse(json).q, json, crc: nodeNatives.crc32(rec.subarray(4, 6 + n)) === crc, reported }); } catch (e) { /* not a record */ }
        }
      }
      const latest = found.reduce((a, b) => (b.q > a.q ? b : a));
      return { latest, free: free[latest.u], unit: latest.u, found };
    }
    /** Writes a record into the latest unit's first free place; `length` overrides the length field and the CRC's extent. */
    function put(board: SimBoard, json: string, length = json.length) {
      const { unit, free } = scan(board), rec = new Uint8Array(SIZE).fill(0xff);
      rec.set(Buffer.from(json, "latin1"), 6);
      rec[4] = length & 0xff;
      rec[5] = length >> 8;
      const crc = nodeNatives.crc32(rec.subarray(4, Math.min(SIZE, 6 + length)));
      rec[0] = crc & 0xff; rec[1] = (crc >>> 8) & 0xff; rec[2] = (crc >>> 16) & 0xff; rec[3] = crc >>> 24;
      board.flash.mem.set(rec, UNIT[unit] + free * SIZE);
    }
    function provisioned() {
      const board = new SimBoard({ board: "LINUX" });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      return board;
    }
    /** The latest record with a higher sequence number and the running version renamed, padded with spaces to `n` characters of JSON. */
    function newer(board: SimBoard, version: string, n: number) {
      const r = JSON.parse(scan(board).latest.json);
      r.q += 1;
      r.a.v = version;
      const json = JSON.stringify(r);
      return json + " ".repeat(Math.max(0, n - json.length));
    }

    it("takes a record of the largest length (250 bytes of JSON)", function () {
      const board = provisioned();
      put(board, newer(board, "7.7.7", SIZE - 6));
      assert.equal(device(board, "1.0.0").info().version, "7.7.7");
    });

    it("refuses a record whose length runs past its 256 bytes, even when the CRC over what is there matches", function () {
      const board = provisioned();
      put(board, newer(board, "7.7.7", SIZE - 6), SIZE - 5);
      assert.equal(device(board, "1.0.0").info().version, "1.0.0");
    });

    it("ignores a record with a valid CRC but no sequence number or no state", function () {
      for (const drop of ["q", "s"]) {
        const board = provisioned();
        const r = JSON.parse(newer(board, "7.7.7", 0).trim());
        delete r[drop];
        put(board, JSON.stringify(r));
        assert.equal(device(board, "1.0.0").info().version, "1.0.0", "without " + drop);
      }
    });

    it("cuts long texts (versions, reasons) so that every record fits", function () {
      const long = "9." + "1".repeat(200);
      const { board } = ready({ version: long });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(err, null, err && err.message);
      assert.equal(result.state, "updated");
      const latest = JSON.parse(scan(board).latest.json);
      assert.equal(latest.c.v, long.substr(0, 32));
      assert.ok(scan(board).latest.json.length < SIZE - 6);
    });

    it("keeps a version's quotes, backslashes and control characters out of the record: each becomes ?", function () {
      const odd = '1.0 "beta"\\\u0001\u00e9' + "\u0002".repeat(40);
      const { board } = ready({ version: odd });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      const latest = JSON.parse(scan(board).latest.json);
      assert.equal(latest.c.v, '1.0 ?beta????' + "?".repeat(19));
      // As long in JSON as in characters: the record leaves its marks' words erased.
      assert.equal(JSON.stringify(latest.c.v).length, 34);
      assert.equal(device(board, "1.0.0").info().candidate.version, latest.c.v);
    });

    it("marks the latest record even with a torn record after it, and appends after the torn one in the same cycle", function () {
      const board = provisioned();
      // v2 installed and confirmed: the report marks the latest record; the next update appends.
      board.card.stage({ data: bytes(appImage("2.0.0", { size: 3000 })), version: "2.0.0" });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      board.boot();
      confirm(board, device(board, "2.0.0"));
      const { latest, unit, free } = scan(board);
      // A torn append after it: bytes programmed where the next record would go.
      board.flash.write(new Uint8Array(40).fill(0x5a), 0x10000000 + UNIT[unit] + free * SIZE);
      board.card.stage({ data: bytes(appImage("3.0.0", { size: 3000 })), version: "3.0.0" });
      // One cycle: the report of 2.0.0 (a mark), then v3's first record (an append).
      assert.equal(check(board, device(board, "2.0.0")).result.state, "updated");
      assert.deepEqual(board.flash.violations, []);
      assert.ok(board.flash.mem.subarray(UNIT[unit] + free * SIZE, UNIT[unit] + free * SIZE + 40).every((b) => b === 0x5a), "nothing written over the torn bytes");
      const after = scan(board);
      const marked = after.found.find((f) => f.q === latest.q)!;
      assert.ok(marked.reported, "the report marked the latest record, not the torn one");
      assert.ok(after.found.filter((f) => f.q > latest.q).every((f) => f.u !== unit || f.i > free), "records after the torn one");
      assert.equal(board.boot().ran, "3.0.0");
    });

    it("keeps the longest records within 256 bytes: long texts and numbers through a revert and its report", function () {
      const a = "9." + "1".repeat(200), b = "9." + "2".repeat(200), size = 60000;
      const { board } = ready({ version: a, size });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      board.boot();
      confirm(board, device(board, a));
      check(board, device(board, a));
      board.card.stage({ data: bytes(appImage(b, { size })), version: b });
      assert.equal(check(board, device(board, a)).result.state, "updated");
      // Never confirmed: three trial boots, then the selector reverts with its longest reason.
      for (let i = 0; i < 4; i++) board.boot();
      const reverted = JSON.parse(scan(board).latest.json);
      assert.equal(reverted.s, "reverted");
      assert.equal(reverted.r, "not confirmed after 3 boots");
      const before = scan(board).found.length;
      check(board, device(board, a));
      const { latest, found } = scan(board);
      // Reported in place: the revert record's last word, no record of its own.
      assert.equal(found.length, before);
      assert.equal(JSON.parse(latest.json).s, "reverted");
      assert.ok(latest.reported, "the revert was reported");
      assert.deepEqual(requests(board, "dfu.status", (r) => /^rejected /.test(r.err || "")).map((l) => l.req.err), ["rejected " + b.substr(0, 32) + ": not confirmed after 3 boots"]);
      check(board, device(board, a));
      assert.equal(requests(board, "dfu.status", (r) => /^rejected /.test(r.err || "")).length, 1, "reported once");
      assert.ok(found.every((f) => f.crc), "every record passes its CRC");
      const longest = Math.max(...found.map((f) => f.json.length));
      assert.ok(longest > 180 && longest <= SIZE - 6, String(longest));
      // A progress record leaves its marks' words erased: verified, three trial boots, confirmed, reported.
      const progress = found.filter((f) => JSON.parse(f.json).s === "progress").map((f) => 6 + f.json.length);
      assert.ok(progress.length && Math.max(...progress) > 200 && Math.max(...progress) <= SIZE - 4 * 6, String(progress));
      assert.deepEqual([device(board, a).info().version, device(board, a).info().rejected], [a.substr(0, 32), b.substr(0, 32)]);
    });

    it("appends the first record of a cycle into the unit that has room: no erase", function () {
      const board = provisioned();
      board.card.stage({ data: bytes(appImage("2.0.0", { size: 3000 })), version: "2.0.0" });
      // The chunks keep failing: the cycle ends after its first record.
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.length > 0 ? { err: "flash busy" } : rsp);
      const before = board.flash.erases, records = scan(board).found.length;
      assert.equal(check(board, device(board, "1.0.0", { chunkRetries: 0 })).result.state, "retry");
      assert.equal(scan(board).found.length, records + 1, "one record more");
      assert.equal(board.flash.erases, before, "no unit erased for it");
    });

    it("erases a record unit only when it is full: a whole update costs few record erases", function () {
      const { board } = ready({ size: 40000 });
      const before = board.flash.erases;
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "updated");
      // 40 chunks of 1 KiB journal about 40 records, 8 to a 4 KiB unit of four 1 KiB pages: a unit
      // erased per 8 records, the slot's 40 pages besides (erasing at every record: over 180).
      const records = 40 + 6, slotPages = Math.ceil(40000 / 1024);
      assert.ok(board.flash.erases - before <= slotPages + (Math.ceil(records / 8) + 1) * 4, `${board.flash.erases - before} erases`);
    });
  });

  describe("per-chunk integrity", function () {
    it("checks each chunk's MD5 when the card does not echo the crc, and retries a corrupted one", function () {
      const { board } = ready({ size: 16000, notecard: { crc: false, faults: { corrupt: 0.02 }, seed: 8 } });
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.equal(err, null, err && err.message);
      assert.equal(result.state, "updated");
      assert.ok((board.card.injected.corrupt ?? 0) > 0);
      assert.equal(board.boot().ran, "2.0.0");
    });

    it("refuses a chunk whose MD5 does not match and asks for it again, before it reaches flash", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      let bad = 0;
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.get" && req.offset === 2048 && !bad++ ? Object.assign({}, rsp, { status: "0123456789abcdef0123456789abcdef" }) : rsp);
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", err && err.message);
      assert.ok(events.includes("chunk 2048: MD5 mismatch"), events.join(" | "));
      assert.equal(requests(board, "dfu.get", (r) => r.offset === 2048).length, 2);
      assert.ok(!events.some((t) => /copying it again/.test(t)), "caught at the chunk, not by the whole-image CRC");
    });

    it("without the MD5 add-on, refuses a card that sends no crc cleanly and keeps everything", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      const { err, result } = check(board, device(board, "1.0.0", { md5: undefined }));
      assert.equal(err.code, "refused");
      assert.match(err.message, /NotecardDFUMD5/);
      assert.equal(result.state, "retry", "a host limitation, not a bad image");
      assert.ok(board.card.image, "the Notecard keeps its image");
      assert.ok(!board.card.reports.some((r: any) => r.req.stop), "nothing dropped or reported");
      assert.equal(board.card.hubMode, "periodic");
      assert.equal(board.boot().ran, "1.0.0");
    });
  });

  describe("gates", function () {
    it("skips the version that is already running and clears it from the Notecard", function () {
      const { board } = ready({ version: "1.0.0" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(err, null);
      assert.equal(result.state, "current");
      assert.ok(board.card.reports.some((r) => r.req.stop && /already running 1\.0\.0/.test(String(r.req.status))));
      assertIntact(board);
    });

    it("refuses a downgrade, and allows it when asked", function () {
      let { board } = ready({ version: "0.9.0" });
      let { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "failed");
      assert.match(err.message, /downgrade from 1\.0\.0 to 0\.9\.0 refused/);
      assert.ok(board.card.reports.some((r) => r.req.stop && /downgrade/.test(String(r.req.err))));
      assertIntact(board);
      ({ board } = ready({ version: "0.9.0" }));
      ({ result } = check(board, device(board, "1.0.0", { allowDowngrade: true })));
      assert.equal(result.state, "updated");
    });

    const definitive: [string, any, RegExp][] = [
      ["an image larger than the slot", { size: 70000 }, /larger than slot 1/],
      ["a body without crc32", { body: { crc32: undefined } }, /incomplete/],
      ["a body with a negative length", { body: { length: -5 } }, /incomplete/],
      ["a body with a fractional length", { body: { length: 100.5 } }, /incomplete/],
      ["an image that is not firmware", { type: "notecard" }, /not firmware/]
    ];
    for (const [what, opts, problem] of definitive) {
      it(`refuses ${what}, reports it, and keeps the running image`, function () {
        const { board } = ready(Object.assign({ notecard: { needsDfuMode: true, dfuEntryMs: 0 } }, opts));
        const { err, result } = check(board, device(board, "1.0.0"));
        assert.equal(result.state, "failed");
        assert.match(err.message, problem);
        assert.ok(board.card.reports.some((r) => r.req.stop && problem.test(String(r.req.err))), JSON.stringify(board.card.reports.map((r) => r.req)));
        assert.notEqual(device(board, "1.0.0").info().state, "progress");
        assertIntact(board);
      });
    }

    it("copies an image whose CRC-32 does not match once more, then refuses and reports it", function () {
      const { board } = ready({ body: { crc32: 12345 }, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "retry");
      assert.match(err.message, /CRC-32 \d+, expected \d+; copying it again/);
      assert.ok(!board.card.reports.some((r) => r.req.stop), "the first mismatch must not drop the image");
      ({ err, result } = check(board, device(board, "1.0.0")));
      assert.equal(result.state, "failed");
      assert.match(err.message, /CRC-32 \d+, expected 12345 twice/);
      assert.ok(board.card.reports.some((r) => r.req.stop && /twice/.test(String(r.req.err))));
      assert.equal(device(board, "1.0.0").info().state, "confirmed");
      assertIntact(board);
    });

    it("does not drop the Notecard's image when a second dfu.status disagrees with the first", function () {
      const { board } = ready({ type: "notecard" });
      let n = 0;
      board.card.mutate = (req, rsp) => (req.req === "dfu.status" && rsp.body && ++n === 2 ? Object.assign({}, rsp, { body: Object.assign({}, rsp.body, { type: "firmware" }) }) : rsp);
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "retry");
      assert.match(err.message, /not confirmed by a second dfu\.status/);
      assert.ok(!board.card.reports.some((r) => r.req.stop));
      assert.ok(board.card.image, "the image stays on the Notecard");
    });

    it("reports nothing to do while Notehub is still downloading", function () {
      const board = new SimBoard();
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      board.card.dfuMode = "downloading";
      const { result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "downloading");
    });

    it("refuses to start before provisioning", function () {
      const board = new SimBoard();
      board.card.stage({ data: bytes(appImage("2.0.0")), version: "2.0.0" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "unprovisioned");
      assert.match(err.message, /not provisioned/);
    });
  });

  describe("transient failures", function () {
    it("keeps the Notecard's image, leaves DFU mode and keeps the running image when the card stops answering", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let n = 0;
      const dfu = device(board, "1.0.0", { chunkSize: 2048, retries: 1, retryDelayMs: 100, onProgress: () => { if (++n === 3) board.card.latencyMs = 60e3; } });
      const { err, result } = check(board, dfu);
      assert.equal(result.state, "retry");
      assert.match(err.message, /no response|failed/);
      board.card.latencyMs = 10;
      assert.equal(board.card.image !== null, true, "a transient failure must not delete the Notecard's image");
      assert.ok(!board.card.reports.some((r) => r.req.stop));
      assertIntact(board);
      board.clock.advance(60e3); // the card finishes the slow answer it was working on
      const again = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.equal(again.result.state, "updated", again.err && again.err.message);
      assert.ok(again.result.resumedAt > 0, "the second cycle resumes");
    });

    it("ends the cycle cleanly when a callback throws mid-copy: DFU mode left, nothing thrown out of a timer", function () {
      const { board } = ready({ size: 20000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let n = 0;
      const dfu = device(board, "1.0.0", { chunkSize: 2048, onProgress: () => { if (++n === 3) throw new Error("display driver crashed"); } });
      const { err, result } = check(board, dfu);
      assert.equal(result.state, "retry");
      assert.match(err.message, /exception: display driver crashed/);
      assert.equal(board.card.hubMode, "periodic");
      assert.ok(board.card.image);
      const again = check(board, device(board, "1.0.0", { chunkSize: 2048 }));
      assert.equal(again.result.state, "updated");
    });

    it("backs off after a transient failure when checking periodically: twice the interval each time up to eight times, back once a check succeeds", function () {
      const { board } = ready({ version: "1.0.0" });
      let failing = true;
      const at: number[] = [];
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && failing ? { err: "busy {io}" } : rsp);
      board.card.onRequest = (req: any) => { if (req.req === "dfu.status" && !req.stop) at.push(board.clock.now); };
      const dfu = device(board, "1.0.0", { retries: 0 });
      dfu.start(60e3);
      board.clock.runUntil(() => at.length >= 7, 24 * 3600e3);
      failing = false;
      board.clock.runUntil(() => at.length >= 10, 24 * 3600e3);
      dfu.stop();
      // Each gap is the interval times the back-off, plus the failed check's own second or so.
      const gaps = at.slice(1).map((t, i) => (t - at[i]) / 1000);
      const expect = [120, 240, 480, 480, 480, 480, 480, 60, 60];
      gaps.forEach((g, i) => assert.ok(g >= expect[i] && g < expect[i] + 3, `gaps ${gaps.join(", ")} s, expected about ${expect.join(", ")}`));
    });

    it("does not back off after a definitive refusal, and checks once a minute with a manual check in between", function () {
      const { board } = ready({ version: "0.9.0" });
      const starts: number[] = [];
      // A check's first dfu.status (a refusal reads it once more at once).
      board.card.onRequest = (req: any) => { if (req.req === "dfu.status" && !req.stop && !req.err && !(starts.length && board.clock.now - starts[starts.length - 1] < 5000)) starts.push(board.clock.now); };
      const dfu = device(board, "1.0.0");
      dfu.start(60e3);
      board.clock.runUntil(() => starts.length >= 2, 24 * 3600e3);
      let manual: any = null;
      board.clock.advance(20e3);
      dfu.check((e: any, r: any) => { manual = r; });
      board.clock.runUntil(() => manual !== null, 3600e3);
      board.clock.runUntil(() => board.clock.now >= 400e3, 24 * 3600e3);
      dfu.stop();
      const gaps = starts.slice(1).map((t, i) => Math.round((t - starts[i]) / 1000));
      // The refusal (a downgrade) drops the image and is no reason to wait longer: the next check a
      // minute later; then one check a minute, plus the manual one.
      assert.ok(gaps[0] >= 59 && gaps[0] <= 61, `gaps ${gaps}`);
      assert.ok(starts.length <= 9, `${starts.length} checks in 400 s: gaps ${gaps}`);
    });

    it("keeps one periodic timer when a check is run by hand in between", function () {
      const board = new SimBoard({ board: "LINUX" });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      const dfu: any = device(board, "1.0.0");
      dfu.start(60e3);
      board.clock.runUntil(() => requests(board, "dfu.status").length >= 1 && !dfu._d._busy, 3600e3);
      assert.equal(board.clock.pending(), 1, "the periodic timer");
      let manual: any = null;
      dfu.check((e: any, r: any) => { manual = [e, r]; });
      board.clock.runUntil(() => manual !== null && !dfu._d._busy, 30e3);
      assert.equal(manual[0], null, "a check of its own, not busy");
      assert.equal(board.clock.pending(), 1, "still one periodic timer after the manual check");
      dfu.stop();
      assert.equal(board.clock.pending(), 0);
    });

    it("lets an exception from the caller's own check callback out, and calls it once", function () {
      const { board } = ready({ version: "1.0.0" });
      const dfu = device(board, "1.0.0");
      let calls = 0;
      dfu.check(() => { calls++; throw new Error("the application's bug"); });
      assert.throws(() => board.clock.runUntil(() => calls > 0 && board.clock.pending() === 0, 3600e3), /the application's bug/);
      board.clock.runUntil(() => board.clock.pending() === 0, 3600e3);
      assert.equal(calls, 1);
    });

    it("start() called while a check runs schedules the periodic checks once that check ends", function () {
      const { board } = ready({ version: "1.0.0" });
      const dfu = device(board, "1.0.0");
      let first: any = null;
      dfu.check((err: any, res: any) => { first = res; });
      dfu.start(60e3);
      board.clock.runUntil(() => first !== null, 3600e3);
      assert.equal(first.state, "current");
      const ended = board.clock.now, before = requests(board, "dfu.status").length;
      board.clock.runUntil(() => requests(board, "dfu.status").length > before, 3600e3);
      assert.ok(requests(board, "dfu.status").length > before, "a periodic check followed");
      assert.ok(board.clock.now - ended >= 60e3 && board.clock.now - ended < 61e3, `after the interval: ${board.clock.now - ended} ms`);
      dfu.stop();
      const stopped = requests(board, "dfu.status").length;
      board.clock.advance(5 * 60e3);
      board.clock.runUntil(() => board.clock.pending() === 0, 60e3);
      assert.ok(requests(board, "dfu.status").length <= stopped + 2, "stop() ends them (the check under way may finish)");
    });

    it("holds one receive buffer for a whole cycle, sized from chunkSize, and gives it back when idle", function () {
      const { board } = ready({ size: 8000 });
      const buffers = new Set<Uint8Array>();
      const size = 4 * Math.ceil(1024 / 3) + 256 + 2;
      const natives = Object.assign({}, nodeNatives, { text: (b: Uint8Array) => { if (b.length === size) buffers.add(b); return nodeNatives.text(b); } });
      const dfu = device(board, "1.0.0", { chunkSize: 1024, natives });
      assert.ok(!dfu._d._c._rx, "nothing allocated before the first request");
      const { result } = check(board, dfu);
      assert.equal(result.state, "updated");
      assert.equal(buffers.size, 1, "one buffer, sized from chunkSize, for every exchange of the cycle");
      assert.ok(!dfu._d._c._rx, "given back once the cycle ended");
    });

    it("gives every chunk its own retries: one failure per chunk never adds up", function () {
      const { board } = ready({ size: 10000 });
      const seen = new Set<number>();
      board.card.mutate = (req: any, rsp: any) => {
        if (req.req !== "dfu.get" || !(req.length > 0) || seen.has(req.offset)) return rsp;
        seen.add(req.offset);
        return Object.assign({}, rsp, { payload: rsp.payload.slice(0, -8) });
      };
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, chunkRetries: 2 }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(seen.size, 10, "every chunk failed once");
    });

    it("refuses a second check while one is running", function () {
      const { board } = ready();
      const dfu = device(board, "1.0.0");
      let second: any;
      dfu.check(() => {});
      dfu.check((err: any) => { second = err; });
      assert.equal(second.code, "busy");
      board.clock.runUntil(() => board.clock.pending() === 0);
    });
  });

  describe("schemas", function () {
    it("every request of a whole update cycle, a refusal and the reports validates against Blues' schemas", function () {
      if (!schemaDir()) { console.log("      (skipped: ../shared/notecard-schema not found)"); this.skip(); }
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 3000 } });
      check(board, device(board, "1.0.0"));
      board.boot();
      const dfu = device(board, "2.0.0");
      confirm(board, dfu);
      board.card.stage({ data: bytes(appImage("1.5.0")), version: "1.5.0" });
      check(board, dfu);
      const names = new Set(board.card.log.map((l) => l.req.req));
      assert.deepEqual([...names].sort(), ["dfu.get", "dfu.status", "hub.set"]);
      assert.ok(board.card.log.some((l) => l.req.err) && board.card.log.some((l) => l.req.version) && board.card.log.some((l) => l.req.stop));
      assert.deepEqual(board.card.log.flatMap((l) => validateExchange(l.req, l.rsp)), []);
    });
  });

  describe("closed loop", function () {
    it("reports the running version at the first check after every boot", function () {
      const { board } = ready();
      check(board, device(board, "1.0.0"));
      board.boot();
      const dfu = device(board, "2.0.0");
      confirm(board, dfu);
      check(board, dfu);
      const versions = board.card.log.filter((l) => l.req.req === "dfu.status" && l.req.version).map((l) => l.req.version);
      assert.deepEqual(versions, ["1.0.0", "2.0.0"]);
      assert.ok(board.card.reports.some((r) => r.req.status === "installed 2.0.0"));
    });

    it("a report the card refuses does not stop the cycle, and is sent again at the next one", function () {
      const { board } = ready({ version: "1.0.0" });
      check(board, device(board, "1.0.0"));
      board.boot();
      const dfu = device(board, "2.0.0");
      // A fresh "installed" report is due after the confirm; the card refuses it once.
      board.card.stage({ data: bytes(appImage("2.0.0")), version: "2.0.0" });
      check(board, device(board, "1.0.0"));
      board.boot();
      confirm(board, dfu);
      let refused = 0;
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && req.status === "installed 2.0.0" && !refused++ ? { err: "busy, try later" } : rsp);
      const first = check(board, dfu);
      assert.notEqual(first.result.state, "retry", "the cycle went on");
      assert.equal(refused, 1);
      check(board, device(board, "2.0.0"));
      assert.ok(board.card.reports.some((r) => r.req.status === "installed 2.0.0"), "reported at the next cycle");
    });

    it("restarts into a staged image whose restart was lost (reset before the reboot)", function () {
      const { board } = ready();
      let reboots = 0;
      const first = check(board, device(board, "1.0.0", { reboot: () => { reboots++; } }));
      assert.equal(first.result.state, "updated");
      assert.equal(reboots, 1);
      // The board was reset by other means before it restarted: the app runs v1 again, the record says pending.
      const events: string[] = [];
      const again = check(board, device(board, "1.0.0", { reboot: () => { reboots++; }, onEvent: (t: string) => events.push(t) }));
      assert.equal(again.result.state, "updated");
      assert.equal(reboots, 2);
      assert.ok(events.includes("staged: restart"), events.join(" | "));
      assert.equal(board.boot().ran, "2.0.0");
    });
  });

  describe("phase table", function () {
    it("refuses a transition the table does not have, ends the cycle cleanly and keeps everything", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let armed = true;
      // The Copy phase reads the clock (keep-alive) just before it asks for a chunk: at that moment,
      // make the engine believe it is in phase Status (3), from which Chunk is not allowed.
      const dfu: any = device(board, "1.0.0", { clock: () => {
        if (armed && dfu._d._ph === 0 && dfu._d._w._pos > 0) { armed = false; at = dfu._d._w._pos; dfu._d._ph = 3; }
        return board.clock.now;
      } });
      let at = -1;
      const { err, result } = check(board, dfu);
      assert.equal(armed, false, "the switch happened");
      assert.equal(requests(board, "dfu.get", (r) => r.offset === at && r.length > 0).length, 0, "nothing asked after the refusal");
      assert.equal(err.code, "internal");
      assert.match(err.message, /phase 3 > 1 not in the table/);
      assert.equal(result.state, "retry");
      assert.ok(board.card.image, "the Notecard keeps its image");
      assert.equal(board.card.hubMode, "periodic", "DFU mode left");
      assert.equal(board.boot().ran, "1.0.0");
    });
  });

  describe("versions", function () {
    it("does not take a version it cannot read for a downgrade", function () {
      const { board } = ready({ version: "nightly" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "updated", err && err.message);
    });
  });
});
