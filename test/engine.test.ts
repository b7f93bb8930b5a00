// The update engine through the built bundle: resume after a host reset, cards with and without
// DFU mode, the keep-alive on a slow link, every gate, and every failure path leaving the Notecard
// out of DFU mode with the running image intact.
import { strict as assert } from "assert";
import { nodeNatives } from "../sim/natives";
import { resolve } from "path";
import { appImage, packageRoot, SimBoard } from "../sim/board";
import { PowerCut } from "../sim/power";
import { FLOW, P } from "../src/dfu/flow";
import { check, confirm, device, moves, offTable, provision, runsHere } from "./helpers/device";
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
    // 1536-byte chunks end inside LINUX's 1 KiB pages: the journal then holds the last whole page.
    // A resume point every 4 KiB: the trailer's sixteen then cover the image. JOLTJS: 4 KiB pages.
    for (const [name, pct, size, chunk] of [["LINUX", 30, 40000, 2048], ["LINUX", 60, 40000, 2048], ["LINUX", 99, 40000, 2048], ["LINUX", 50, 40000, 1536], ["JOLTJS", 60, 40000, 2048]].filter(([name]) => runsHere(name as string)) as [string, number, number, number][]) {
      it(`continues from the last committed page after a reset at ${pct} % (${name}, ${chunk}-byte chunks)`, function () {
        const { board, src } = ready({ board: name, size, notecard: { needsDfuMode: true, dfuEntryMs: 2000 } });
        const total = src.length;
        const events: string[] = [];
        const dfu = device(board, "1.0.0", {
          chunkSize: chunk, resumeEvery: 4096,
          onProgress: (p: any) => { if (p.offset >= (total * pct) / 100) board.rail.down = true; }
        });
        assert.throws(() => check(board, dfu), PowerCut);
        board.boot();
        const before = requests(board, "dfu.get", (r) => r.length > 0).length;
        const { err, result } = check(board, device(board, "1.0.0", { chunkSize: chunk, resumeEvery: 4096, onEvent: (t: string) => events.push(t) }));
        assert.equal(err, null, err && err.message);
        assert.equal(result.state, "updated");
        // At most a chunk, the spacing and a page before the cut.
        assert.ok(result.resumedAt > 0 && result.resumedAt >= Math.floor((total * pct) / 100) - chunk - 4096 - 4096, `resumed at ${result.resumedAt}`);
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
    for (const name of ["LINUX", "JOLTJS"].filter(runsHere)) {
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
        board.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - 200) records++; return write(data, addr); };
        assert.equal(check(board, device(board, "1.0.0", { resumeEvery, chunkSize: 2048 })).result.state, "updated");
        return records;
      };
      const every = count(0), spaced = count(undefined), wide = count(65536);
      // 40000 bytes in 2 KiB chunks over 1 KiB pages: a resume point after each chunk with 0, up
      // to the sixteen the trailer holds; 2 at 16 KiB; none at 64 KiB; besides them, the header
      // before DFU mode and the verified mark.
      assert.equal(wide, 2);
      assert.equal(every - wide, 16);
      assert.equal(spaced - wide, 2);
    });

    it("starts again from 0 when the copied part no longer matches its journal", function () {
      const { board, src } = ready({ size: 20000 });
      const dfu = device(board, "1.0.0", { chunkSize: 2048, onProgress: (p: any) => { if (p.offset >= src.length / 2) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      board.boot();
      board.flash.mem[0x10014000 - 0x10000000 + 100] ^= 0x01; // a committed byte decays
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.equal(err, null);
      assert.equal(result.resumedAt, undefined);
      assert.deepEqual(events.slice(1, 3), ["check 8192", "no resume"]);
      assert.equal(board.boot().ran, "2.0.0");
    });
  });

  describe("DFU mode", function () {
    it("journals the download before hub.set mode:dfu: after a reset just then, the next cycle leaves DFU mode even with no image left", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      board.card.mutate = (req: any, rsp: any) => {
        if (req.req === "hub.set" && req.mode === "dfu") board.rail.down = true;
        return rsp;
      };
      assert.throws(() => check(board, device(board, "1.0.0")), PowerCut);
      board.boot();
      assert.equal(board.card.hubMode, "dfu", "the card entered DFU mode before the reset");
      board.card.mutate = undefined;
      board.card.stage(null); // Notehub withdrew the image meanwhile
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(err, null);
      assert.equal(result.state, "idle");
      assert.equal(board.card.hubMode, "periodic", "DFU mode left");
    });

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
      // A bit in slot 1 (0x10014000 on LINUX) that will not program at the next write there.
      board.flash.stuck.push({ addr: 0x10014000 + 1500, mask: 0x10, times: 1 });
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

    it("needs the MD5 add-on for a card that does not send the crc field, and copies nothing without it", function () {
      const { board } = ready({ size: 6000, notecard: { crc: false } });
      const { err, result } = check(board, device(board, "1.0.0", { md5: undefined }));
      assert.deepEqual([result.state, err.code, err.message], ["retry", "refused", "no crc: needs NotecardDFUMD5"]);
      assert.equal(requests(board, "dfu.get").length, 0);
      assert.ok(board.card.image, "the Notecard keeps its image");
      assertIntact(board);
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated", "with the add-on");
    });

    it("erases each page of the target slot once per copy and nothing outside it, chunks ending inside pages", function () {
      // 1536-byte chunks over LINUX's 1 KiB pages: every other chunk starts inside a page that the
      // chunk before erased, and ends on a page boundary.
      const { board } = ready({ size: 20000 });
      const erased: number[] = [], erase = board.flash.erasePage.bind(board.flash);
      board.flash.erasePage = (addr: number) => { erased.push(addr); return erase(addr); };
      assert.equal(check(board, device(board, "1.0.0", { chunkSize: 1536 })).result.state, "updated");
      const slot = { addr: 0x10014000, length: 65536 }, record = 0x10024000 - 1024;
      const inSlot = erased.filter((a) => a >= slot.addr && a < slot.addr + slot.length);
      // The pages the image takes, and the trailer's page (before the header).
      assert.equal(inSlot.length, Math.ceil(20000 / 1024) + 1, `slot pages erased: ${inSlot.map((a) => a.toString(16)).join(" ")}`);
      assert.equal(new Set(inSlot).size, inSlot.length);
      assert.ok(inSlot.includes(record), "the trailer's page");
      assert.deepEqual(erased.filter((a) => !inSlot.includes(a)), []);
    });

    it("journals once per committed page, not once per chunk", function () {
      const { board, src } = ready({ size: 20000 });
      const total = src.length, writes: number[] = [], write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - 200) writes.push(addr); return write(data, addr); };
      const progress: any[] = [];
      const { result } = check(board, device(board, "1.0.0", { chunkSize: 512, onProgress: (p: any) => progress.push(p) }));
      assert.equal(result.state, "updated");
      // 40 chunks of 512 bytes fill 20 pages of 1 KiB: a resume point per page, up to the sixteen
      // the trailer holds, the header and the verified mark.
      assert.equal(progress.length, Math.ceil(total / 512));
      assert.equal(writes.length, 16 + 2, `${writes.length} trailer writes`);
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

    it("with verifyMd5, checks the whole image against body.md5 in either case, needs the add-on from setup() on, and skips a body without one", function () {
      const { board, src } = ready();
      const md5 = require("crypto").createHash("md5").update(Buffer.from(src, "latin1")).digest("hex");
      board.card.mutate = (req: any, rsp: any) => (req.req === "dfu.status" && rsp.body ? Object.assign({}, rsp, { body: Object.assign({}, rsp.body, { md5: md5.toUpperCase() }) }) : rsp);
      const upper = check(board, device(board, "1.0.0", { verifyMd5: true }));
      assert.equal(upper.result.state, "updated", upper.err && upper.err.message);
      const bare = ready().board;
      assert.throws(() => device(bare, "1.0.0", { verifyMd5: true, md5: undefined }), (e: any) => e.code === "layout" && e.message === "verifyMd5 needs NotecardDFUMD5");
      assert.equal(bare.card.log.length, 0, "nothing asked of the card");
      assert.ok(bare.card.image);
      const none = ready().board;
      none.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status" && rsp.body) delete rsp.body.md5; return rsp; };
      assert.equal(check(none, device(none, "1.0.0", { verifyMd5: true })).result.state, "updated");
    });

    it("reports a ready card whose dfu.status has no body once a second answer agrees", function () {
      const { board } = ready();
      board.card.mutate = (req: any, rsp: any) => { if (req.req === "dfu.status") delete rsp.body; return rsp; };
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.deepEqual([result.state, err.code, err.message], ["failed", "refused", "image description incomplete"]);
      assert.equal(requests(board, "dfu.status", (r) => !r.stop).length, 2, "asked twice");
      assert.ok(board.card.reports.some((r: any) => r.req.stop && r.req.err === "image description incomplete"), "reported and dropped");
      assert.equal(requests(board, "dfu.get").length, 0);
      assertIntact(board);
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
      // A CRC mismatch found after the copy and its second copy: dropped and reported, and the trailer no longer says "progress".
      const bad = ready({ body: { crc32: 1 } }).board;
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
      // Power fails right after the resume point that says the whole image is in the slot.
      board.flash.write = (data: any, addr: number) => {
        write(data, addr);
        if (addr >= 0x10024000 - 200 && data.length === 8 && Buffer.from(data).readUInt32LE(0) === total) board.rail.down = true;
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
      const events: string[] = [];
      const first = check(board, device(board, "1.0.0", { chunkSize: 2048, onEvent: (t: string) => events.push(t) }));
      assert.ok(first.result.resumedAt > 0);
      assert.equal(first.result.state, "updated", first.err && first.err.message);
      assert.ok(events.some((t) => /copying it again$/.test(t)), events.join(" | "));
      assert.equal(board.boot().ran, "2.0.0");
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
        board.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - 200) { records++; if (records === (nth || total)) throw new Error("Flash write failed"); } return write(data, addr); };
        if (!nth) {
          const probe = ready({ size: 6000, notecard: { needsDfuMode: true, dfuEntryMs: 0 } }).board;
          const w = probe.flash.write.bind(probe.flash);
          probe.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - 200) total++; return w(data, addr); };
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
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - 200) records++; return write(data, addr); };
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
        // The reported mark: word 15 of the confirmed slot's trailer (slot 1).
        if (fail && addr === 0x10024000 - 200 + 36 + 4 * 6) { fail = false; throw new Error("Flash write failed"); }
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

  describe("slot writer and trailers", function () {
    const SLOT = [0x10004000 - 0x10000000, 0x10014000 - 0x10000000], LEN = 65536, T = 200;
    /** An application of exactly `size` bytes. */
    const exact = (version: string, size: number) => { const a = appImage(version, { size }); return a + " ".repeat(size - a.length); };
    const held = (board: SimBoard, slot: number, src: string) => Buffer.from(board.flash.mem.subarray(SLOT[slot], SLOT[slot] + src.length)).toString("latin1") === src;
    /** Slot i's trailer (src/slots/boot-state.ts) as bytes. */
    const trailer = (board: SimBoard, i: number) => board.flash.mem.subarray(SLOT[i] + LEN - T, SLOT[i] + LEN);

    it("keeps the previous image byte for byte, even under an image that fills its slot in chunks that end inside pages", function () {
      const { board, src: v2 } = ready({ size: 9000 });
      const v1 = appImage("1.0.0");
      assert.equal(check(board, device(board, "1.0.0", { chunkSize: 1536 })).result.state, "updated");
      assert.equal(board.boot().ran, "2.0.0");
      assert.ok(held(board, 0, v1), "slot 0 still holds 1.0.0 for a rollback");
      confirm(board, device(board, "2.0.0"));
      // 3.0.0 fills slot 0 up to its trailer; slot 1 (running 2.0.0) begins right after it.
      const v3 = exact("3.0.0", LEN - T);
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
      assert.deepEqual(board.flash.violations, []);
    });

    it("refuses an image one byte longer than its slot less the trailer", function () {
      const { board } = ready();
      board.card.stage({ data: bytes(exact("2.0.0", LEN - T + 1)), version: "2.0.0" });
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "failed");
      assert.match(err.message, new RegExp(`image \\(${LEN - T + 1} bytes\\) is larger than slot 1 \\(${LEN - T} bytes\\)`));
      assertIntact(board);
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

    it("writes the trailer's header once per download: length, CRC-32, sequence, version, its CRC", function () {
      const { board, src } = ready({ version: "2.0.0\u0001a-long-version-text-\"quoted\"" });
      assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
      const t = Buffer.from(trailer(board, 1));
      assert.equal(t.readUInt32LE(0), src.length);
      assert.equal(t.readUInt32LE(4), nodeNatives.crc32(src));
      assert.equal(t.readUInt32LE(8), 2, "the sequence after provisioning's");
      assert.equal(t.subarray(12, 32).toString("latin1"), "2.0.0?a-long-version", "20 printable characters of the version");
      assert.equal(t.readUInt32LE(32), nodeNatives.crc32(new Uint8Array(t.subarray(0, 32))));
      assert.equal(t.readUInt32LE(36), 0, "verified");
      assert.equal(device(board, "1.0.0").info().candidate.version, "2.0.0?a-long-version");
    });

    it("fails the cycle cleanly, with the flash's own words, when a slot page cannot be written", function () {
      const { board } = ready();
      const write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x10014000 + 2048 && addr < 0x10024000 - T) throw new Error("Flash write timeout"); return write(data, addr); };
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "Flash write timeout");
      assert.ok(board.card.image);
      assertIntact(board);
    });

    it("fails the cycle cleanly when the trailer cannot be written", function () {
      const { board } = ready();
      const write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { if (addr >= 0x10024000 - T) throw new Error("Flash write failed"); return write(data, addr); };
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.equal(result.state, "retry");
      assert.equal(err.code, "flash");
      assert.equal(err.message, "boot state: Flash write failed");
      assert.ok(board.card.image, "the Notecard keeps its image");
      assertIntact(board);
    });

    it("starts the copy again when a reset came after it wrote into the trailer's page (each word is written once)", function () {
      const { board, src } = ready({ size: LEN - T });
      const dfu = device(board, "1.0.0", { chunkSize: 1024, onProgress: (p: any) => { if (p.offset >= LEN - 512) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      assert.notEqual(Buffer.from(trailer(board, 1)).readUInt32LE(36 + 32), 0xffffffff, "the Tail mark is set");
      board.boot();
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024, onEvent: (t: string) => events.push(t) }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(result.resumedAt, undefined, events.join(" | "));
      assert.ok(held(board, 1, src));
      assert.deepEqual(board.flash.violations, [], "no word written twice");
      assert.equal(board.boot().ran, src.length ? "2.0.0" : "");
    });

    it("resumes from a page boundary inside a chunk (1536-byte chunks over 1 KiB pages), its CRC taken from the chunk", function () {
      const { board } = ready({ size: 20000 });
      const dfu = device(board, "1.0.0", { chunkSize: 1536, onProgress: (p: any) => { if (p.offset >= 6144) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      board.boot();
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1536 }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(result.resumedAt, 4096, "the page boundary inside the third chunk");
      assert.equal(board.boot().ran, "2.0.0");
    });

    it("leaves DFU mode when the second copy after a CRC mismatch fails", function () {
      const { board } = ready({ body: { crc32: 12345 }, notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let copies = 0;
      board.card.mutate = (req: any, rsp: any) => {
        if (req.req === "dfu.get" && req.length > 0 && req.offset === 0) copies++;
        return req.req === "dfu.get" && req.length > 0 && copies >= 2 ? { err: "firmware gone {io}" } : rsp;
      };
      const { result } = check(board, device(board, "1.0.0"));
      assert.ok(copies >= 2, "copied again");
      assert.equal(result.state, "retry");
      assert.equal(board.card.hubMode, "periodic", "the Notecard was left in DFU mode");
    });

    it("keeps as many resume points as its trailer holds, and resumes from the last of them", function () {
      const { board } = ready({ size: 40000 });
      const dfu = device(board, "1.0.0", { chunkSize: 1024, onProgress: (p: any) => { if (p.offset >= 30000) board.rail.down = true; } });
      assert.throws(() => check(board, dfu), PowerCut);
      const t = Buffer.from(trailer(board, 1)), points: number[] = [];
      for (let k = 72; k + 8 <= T; k += 8) if (t.readUInt32LE(k) !== 0xffffffff) points.push(t.readUInt32LE(k));
      assert.deepEqual(points, [...Array(16).keys()].map((i) => (i + 1) * 1024), "one per page, sixteen");
      board.boot();
      const { err, result } = check(board, device(board, "1.0.0", { chunkSize: 1024 }));
      assert.equal(result.state, "updated", err && err.message);
      assert.equal(result.resumedAt, 16384);
      assert.equal(board.boot().ran, "2.0.0");
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
      const events: string[] = [];
      const { err, result } = check(board, device(board, "1.0.0", { onEvent: (t: string) => events.push(t) }));
      assert.ok(events.some((t) => /CRC-32 \d+, expected \d+; copying it again/.test(t)), events.join(" | "));
      assert.equal(requests(board, "dfu.get", (r) => r.length > 0 && r.offset === 0).length, 2, "copied twice");
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

  describe("an exception inside a phase", function () {
    it("ends the cycle cleanly as an internal failure and keeps everything", function () {
      const { board } = ready({ notecard: { needsDfuMode: true, dfuEntryMs: 0 } });
      let armed = true, at = -1;
      // The Copy phase reads the clock (keep-alive) just before it asks for a chunk: a port that
      // throws there, once, mid-copy.
      const dfu: any = device(board, "1.0.0", { clock: () => {
        if (armed && dfu._d._ph === P.Copy && dfu._d._w._pos > 0) {
          armed = false;
          at = dfu._d._w._pos;
          throw new Error("clock broke");
        }
        return board.clock.now;
      } });
      const { err, result } = check(board, dfu);
      assert.equal(armed, false, "the exception happened");
      assert.equal(requests(board, "dfu.get", (r) => r.offset === at && r.length > 0).length, 0, "nothing asked after it");
      assert.equal(err.code, "internal");
      assert.match(err.message, /exception: clock broke/);
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

  // Last: the moves of every test above (and of the files before this one).
  describe("phase table (src/dfu/flow.ts)", function () {
    it("refuses, in the tests, a move it lacks", function () {
      const { board } = ready({});
      const dfu: any = device(board, "1.0.0");
      const before = offTable.length;
      assert.throws(() => { dfu._d._ph = P.Chunk; }, new RegExp("move " + P.Idle + ">" + P.Chunk + " is not in FLOW"));
      assert.deepEqual(offTable.splice(before), [P.Idle + ">" + P.Chunk]);
    });

    it("holds every move the engine made, and every move it lists was made", function () {
      assert.deepEqual(offTable, []);
      // Whether every row was used says something only when the tests before this one all ran.
      if (process.argv.some((a) => /^(-g|--grep|-f|--fgrep)(=|$)/.test(a))) return this.skip();
      const listed: string[] = [];
      FLOW.forEach((to, from) => to.forEach((t) => listed.push(from + ">" + t)));
      assert.deepEqual(listed.filter((m) => !moves.has(m)), [], "rows no test used");
    });
  });
});
