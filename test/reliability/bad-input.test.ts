// A catalogue of bad input from the Notecard, the bus, the image and flash. Each case: a clear
// error, the running image kept, nothing lost (the Notecard keeps its image unless the image
// itself is bad, which is then reported), and the Notecard out of DFU mode.
import { strict as assert } from "assert";
import { appImage, SimBoard } from "../../sim/board";
import { check, device, Install, provision } from "../helpers/device";
import { add } from "./figures";

function bytes(src: string): Uint8Array {
  return new Uint8Array(Buffer.from(src, "latin1"));
}

interface Case {
  name: string;
  /** Card and staging set-up. */
  card?: any;
  body?: any;
  type?: string;
  size?: number;
  options?: any;
  arrange?: (board: SimBoard) => void;
  /** Expected outcome of the first check. */
  state: string;
  error: RegExp;
  /** The image itself is bad: it is dropped from the Notecard and the reason reported. */
  reported?: boolean;
  /** Checks to run before judging (a CRC mismatch is copied a second time). */
  checks?: number;
}

function ready(c: Case) {
  const board = new SimBoard({ notecard: Object.assign({ needsDfuMode: true, dfuEntryMs: 1000 }, c.card) });
  board.saveApp(appImage("1.0.0"));
  provision(board, device(board, "1.0.0"));
  board.boot();
  board.card.stage({ data: bytes(appImage("2.0.0", { size: c.size ?? 6000 })), version: "2.0.0", body: c.body, type: c.type });
  if (c.arrange) c.arrange(board);
  return board;
}

/** The error codes the README documents. */
const CODES = ["io", "card", "refused", "flash", "layout", "busy", "internal"];

const dfuGet = (req: any) => req.req === "dfu.get" && req.length > 0;
const status = (req: any) => req.req === "dfu.status" && !req.stop && !req.err;

const CASES: Case[] = [
  { name: "malformed JSON from the card", card: { crc: false }, arrange: (b) => { b.card.mutate = (req, rsp) => (status(req) ? '{"mode":"ready","body":{"length":' : rsp); }, state: "retry", error: /corrupt response/ },
  { name: "a truncated line (no end of line)", arrange: (b) => { b.card.noNewline = (req) => status(req); }, state: "retry", error: /transaction incomplete/ },
  { name: "non-JSON garbage on the bus", arrange: (b) => { b.card.mutateRaw = (req, raw) => (status(req) ? "\u0001\u00ff garbage <html>" : raw); }, state: "retry", error: /corrupt response|CRC/ },
  { name: "a body without length", body: { length: undefined }, state: "failed", error: /incomplete/, reported: true },
  { name: "a wrongly typed length (string)", body: { length: "6000" }, state: "failed", error: /incomplete/, reported: true },
  { name: "a wrongly typed crc32 (string)", body: { crc32: "12345678" }, state: "failed", error: /incomplete/, reported: true },
  { name: "a negative length", body: { length: -1 }, state: "failed", error: /incomplete/, reported: true },
  { name: "a huge length", body: { length: 1e9 }, state: "failed", error: /larger than slot/, reported: true },
  { name: "a zero length", body: { length: 0 }, state: "failed", error: /incomplete/, reported: true },
  { name: "a fractional length", body: { length: 5999.5 }, state: "failed", error: /incomplete/, reported: true },
  { name: "an image that is not firmware", type: "notefiles", state: "failed", error: /image type notefiles is not firmware/, reported: true },
  { name: "no image type at all (taken as firmware)", body: { type: undefined }, state: "updated", error: /^$/ },
  { name: "body.version as the JSON Notehub scans from the image", body: { version: '{"version":"2.0.0","built":"Nov 30 2026"}' }, state: "updated", error: /^$/ },
  { name: "body.version as JSON naming an older version", body: { version: '{"version":"0.9.0"}' }, state: "failed", error: /downgrade from 1\.0\.0 to 0\.9\.0 refused/, reported: true },
  { name: "DFU mode lost at every chunk", size: 20000, options: { chunkSize: 1024 }, card: { needsDfuMode: true, dfuEntryMs: 100 }, arrange: (b) => { b.card.onRequest = (req) => { if (dfuGet(req)) b.card.leaveDfuMode(); }; }, state: "retry", error: /DFU mode lost 10 times/ },
  { name: "body.length larger than the slot", size: 65337, state: "failed", error: /^image \(65337 bytes\) is larger than slot 1 \(65336 bytes\)$/, reported: true },
  { name: "a crc32 that does not match the image", body: { crc32: 1 }, state: "failed", error: /CRC-32 \d+, expected \d+ twice/, reported: true },
  { name: "an md5 that does not match the image", body: { md5: "0123456789abcdef0123456789abcdef" }, options: { verifyMd5: true }, state: "failed", error: /image MD5 mismatch/, reported: true },
  { name: "a payload shorter than asked", arrange: (b) => { b.card.mutate = (req, rsp) => (dfuGet(req) && rsp.payload ? Object.assign({}, rsp, { payload: rsp.payload.slice(0, -8) }) : rsp); }, state: "retry", error: /payload is \d+ bytes, asked for/ },
  { name: "a payload longer than asked", arrange: (b) => { b.card.mutate = (req, rsp) => (dfuGet(req) && rsp.payload ? Object.assign({}, rsp, { payload: rsp.payload + "AAAA" }) : rsp); }, state: "retry", error: /payload is \d+ bytes, asked for|not valid base64/ },
  { name: "invalid base64", arrange: (b) => { b.card.mutate = (req, rsp) => (dfuGet(req) && rsp.payload ? Object.assign({}, rsp, { payload: "*" + rsp.payload.slice(1) }) : rsp); }, state: "retry", error: /not valid base64|payload is/ },
  { name: "a payload for another offset", arrange: (b) => { b.card.mutate = (req, rsp) => (dfuGet(req) && req.offset === 4096 ? Object.assign({}, rsp, { payload: rsp.payload.replace(/^..../, "AAAA") }) : rsp); }, state: "failed", error: /CRC-32 \d+, expected \d+ twice/, reported: true },
  { name: "the image replaced on Notehub mid-copy", options: { chunkSize: 1024 }, arrange: (b) => { let n = 0; b.card.onRequest = (req) => { if (dfuGet(req) && ++n === 3) b.card.stage({ data: bytes(appImage("2.0.1", { size: 6500 })), version: "2.0.1" }); }; }, state: "retry", error: /twice \(not confirmed by a second dfu\.status\)/ },
  { name: "mode error with a status text", arrange: (b) => { b.card.dfuMode = "error"; b.card.dfuStatusText = "download failed: checksum"; }, state: "error", error: /download failed: checksum/ },
  { name: "dfu.get errors before the image is ready", options: { dfuWaitMs: 20000 }, arrange: (b) => { b.card.mutate = (req, rsp) => (req.req === "dfu.get" ? { err: "firmware not yet ready {dfu-not-ready}" } : rsp); }, state: "retry", error: /DFU mode not active after 20 s/ },
  { name: "hub.set refused", arrange: (b) => { b.card.mutate = (req, rsp) => (req.req === "hub.set" && req.mode === "dfu" ? { err: "hub.set: mode is locked {hub-mode}" } : rsp); }, state: "retry", error: /hub\.set mode:dfu refused/ },
  { name: "a response larger than the receive buffer", arrange: (b) => { b.card.mutate = (req, rsp) => (status(req) && rsp.body ? Object.assign({}, rsp, { body: Object.assign({}, rsp.body, { notes: "x".repeat(9000) }) }) : rsp); }, state: "retry", error: /response larger than/ },
  { name: "a response to a different request", arrange: (b) => { b.card.mutateRaw = (req, raw) => (status(req) ? raw.replace(/"crc":"[0-9A-Fa-f]{4}:/, '"crc":"7777:') : raw); }, state: "retry", error: /response to another request/ },
  { name: "the target slot's trailer full of garbage", arrange: (b) => {
    for (let i = 0; i < 200; i++) b.flash.mem[0x10024000 - 200 - 0x10000000 + i] = (i * 131 + 7) & 0xff;
  }, state: "updated", error: /^$/ }
];

describe("bad-input catalogue", function () {
  for (const c of CASES) {
    it(c.name, function () {
      const board = ready(c);
      let err: any = null, result: any = null;
      for (let i = 0; i < (c.checks ?? 1); i++) ({ err, result } = check(board, device(board, "1.0.0", c.options ?? {}), 24 * 3600e3));
      assert.equal(result.state, c.state, err && err.message);
      assert.match((err && err.message) || result.error || "", c.error);
      // One error shape: null, or an Error with a documented code.
      if (err) {
        assert.ok(err instanceof Error, "an Error");
        assert.ok(CODES.indexOf((err as any).code) >= 0, "documented code: " + (err as any).code);
        assert.equal((err as any).code === "refused", c.state === "failed", "refused exactly when the image is dropped");
      } else assert.equal(c.state === "failed" || c.state === "retry", false);
      assert.equal(board.card.hubMode, "periodic", "the Notecard was left in DFU mode");
      if (c.state === "updated") return;
      const dropped = board.card.reports.some((r) => r.req.stop);
      assert.equal(dropped, !!c.reported, dropped ? "the image was dropped: " + JSON.stringify(board.card.reports) : "the bad image was not reported");
      if (c.reported) assert.ok(board.card.reports.some((r) => r.req.stop && c.error.test(String(r.req.err))));
      else if (c.state === "retry") assert.ok(board.card.image, "the Notecard's image was lost on a transient failure");
      const b = board.boot();
      assert.equal(b.ran, "1.0.0", "the running image was not kept");
      assert.notEqual(device(board, "1.0.0").info().state, "pending");
    });
  }

  it("a slot whose CRC no longer matches at boot: the selector falls back and it is reported", function () {
    const board = ready({ name: "", state: "" , error: /x/ });
    check(board, device(board, "1.0.0"));
    board.flash.mem[0x10014000 - 0x10000000 + 10] ^= 0x40;
    assert.equal(board.boot().ran, "1.0.0");
    check(board, device(board, "1.0.0"));
    assert.ok(board.card.reports.some((r) => /rejected 2\.0\.0: CRC mismatch at boot/.test(String(r.req.err))));
  });

  it("a confirmed image whose slot decays: the selector starts the previous image still intact", function () {
    const board = ready({ name: "", state: "", error: /x/ });
    check(board, device(board, "1.0.0"));
    board.boot();
    const dfu = device(board, "2.0.0");
    let done = false;
    dfu.confirm(() => { done = true; });
    board.clock.runUntil(() => done);
    board.flash.mem[0x10014000 - 0x10000000 + 10] ^= 0x40;
    const b = board.boot();
    assert.equal(b.ran, "1.0.0");
    assert.ok(b.printed.some((p) => /slot 1 fails its CRC$/.test(p)), b.printed.join("\n"));
  });

  it("both trailers of garbage: a clear 'not provisioned' error", function () {
    const board = ready({ name: "", state: "", error: /x/ });
    for (const end of [0x10014000, 0x10024000]) for (let i = 0; i < 200; i++) board.flash.mem[end - 200 - 0x10000000 + i] = (i * 17 + 3) & 0xff;
    const { err, result } = check(board, device(board, "1.0.0"));
    assert.equal(result.state, "unprovisioned");
    assert.match(err.message, /not provisioned/);
    assert.ok(board.card.image, "nothing is dropped from the Notecard");
  });

  it("a layout overlapping Storage or the firmware is refused at provisioning, and the runtime never uses it", function () {
    const board = new SimBoard({ board: "ESPRUINOWIFI" });
    const layout = { slots: [{ addr: 0x08010000, length: 65536 }, { addr: 0x08004000, length: 16384 }] };
    let err: any;
    Install.provision(Object.assign(board.ports(), { layout }), "app", (e: any) => { err = e; });
    assert.equal(err.code, "layout");
    assert.match(err.message, /unsafe layout: slot 0 .* not inside a free flash area .*overwrite firmware or Storage/);
    const { err: checkErr, result } = check(board, device(board, "1.0.0", { layout }));
    assert.equal(result.state, "unprovisioned");
    assert.equal(checkErr.code, "layout");
  });

  it("a damaged stored layout (the last line of .boot0) is refused by the runtime, which then touches nothing", function () {
    const board = ready({ name: "", state: "", error: /x/ });
    const boot0 = board.storage.read(".boot0") as string;
    board.storage.write(".boot0", boot0.substring(0, boot0.lastIndexOf("\n//{")) + '\n//{"b":"LINUX","s":[{"a":2');
    const flash = Buffer.from(board.flash.mem);
    const { err, result } = check(board, device(board, "1.0.0"));
    assert.equal(result.state, "retry");
    assert.equal(err.code, "layout");
    assert.match(err.message, /\.boot0 damaged/);
    assert.ok(board.card.image, "the Notecard keeps its image");
    assert.ok(flash.equals(Buffer.from(board.flash.mem)), "flash and Storage unchanged");
    board.storage.write(".boot0", boot0);
    assert.equal(board.boot().ran, "1.0.0");
  });

  it("a .boot0 that is not the selector (no layout line) means not provisioned, not a damaged layout", function () {
    const board = ready({ name: "", state: "", error: /x/ });
    board.storage.write(".boot0", 'print("someone else\'s boot code");\n');
    const { err, result } = check(board, device(board, "1.0.0"));
    assert.equal(result.state, "unprovisioned");
    assert.equal(err.code, "layout");
    assert.equal(err.message, "not provisioned");
  });

  after(function () {
    add("bad-input cases", CASES.length + 5);
  });
});
