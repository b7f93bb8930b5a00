// The interpreter's work per chunk, counted: valgrind's callgrind over the Espruino Linux build
// (ESPRUINO_BIN, a release build) running whole updates of the minified runtime against the test
// Notecard of test/espruino/fake-notecard.js. Deterministic: the module runs on a virtual clock
// (timers and clock are ports), so no count depends on how fast the machine is.
//
// What is counted and what is taken out:
// - Only the update: collection is on inside `[0].reduce(...)`, which runs the check to its end.
// - The test card: each bus call runs it inside `[0].forEach(...)`, where collection is off.
// - The test's own driver (the timer queue and the two bus wrappers): calibrated alone, per turn
//   and per bus call, and subtracted.
// - Flash emulation (Linux writes a file): the natives Flash.* are reported apart, not in the module.
// - Start-up: two image sizes; the difference over their chunks is the cost of a chunk.
import { execFileSync } from "child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

/** One Linux-build instruction in Pico time (../shared/docs/board-time.md: Leibniz loop, Espruino forum 2017). */
export const PICO_NS_PER_INSTRUCTION = 9;
export const PICO_MODEL = "one Linux-build instruction = 9 ns of an 84 MHz Espruino Pico: the Leibniz loop took 458 s for 1,000,000 iterations on a Pico (Espruino forum, \"Float Speed: Espruino Pico vs Pyboard\", 2017) and about 50,000 instructions per iteration here; firmware has got faster since, so the model errs slow";

interface Costs {
  /** Collected instructions in all. */
  total: number;
  /** Self instructions per C function. */
  self: { [fn: string]: number };
  /** Inclusive instructions of each native the interpreter called from JS (jsnCallFunction's callees). */
  natives: { [fn: string]: number };
}

interface Counted extends Costs { state: string; turns: number; calls: number; reads: number }

export interface ChunkWork {
  chunk: number;
  /** Per chunk: the module's instructions (JS and the natives it calls, without the test harness and flash emulation). */
  module: number;
  natives: number;
  flash: number;
  reads: number;
  turns: number;
  /** Self instructions per C function per chunk, largest first (module and harness). */
  top: [string, number][];
  /** Per native per chunk, largest first. */
  nativeTop: [string, number][];
}

const strip = (name: string) => name.replace(/'\d+$/, "");

/** Reads a callgrind output written with --compress-strings=no --compress-pos=no. */
function parseCallgrind(text: string): Costs {
  const self: { [fn: string]: number } = {}, natives: { [fn: string]: number } = {};
  let fn = "", cfn = "", call = false, total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) { fn = strip(line.slice(3)); continue; }
    if (line.startsWith("cfn=")) { cfn = strip(line.slice(4)); continue; }
    if (line.startsWith("calls=")) { call = true; continue; }
    const m = /^(\d+) (\d+)$/.exec(line);
    if (m) {
      const n = Number(m[2]);
      if (call) {
        if (fn === "jsnCallFunction" && /jswrap_/.test(cfn)) natives[cfn] = (natives[cfn] || 0) + n;
      } else {
        self[fn] = (self[fn] || 0) + n;
      }
      call = false;
      continue;
    }
    const s = /^summary: (\d+)/.exec(line);
    if (s) total = Number(s[1]);
  }
  return { total, self, natives };
}

/** The ES5 harness: a virtual timer queue and bus wrappers that run the card uncounted. */
const HARNESS = `
var q = [], now = 0, turns = 0, calls = 0, reads = 0, card;
var timers = { set: function (fn, ms) { q.push(now + ms, fn); return fn; },
  clear: function (fn) { var i = q.indexOf(fn); if (i > 0) q.splice(i - 1, 2); } };
function run() {
  while (q.length) {
    var b = 0;
    for (var i = 2; i < q.length; i += 2) if (q[i] < q[b]) b = i;
    var fn = q[b + 1];
    if (q[b] > now) now = q[b];
    q.splice(b, 2);
    turns++;
    fn();
  }
}
var bus = { writeTo: function (a, d) { calls++; [0].forEach(function () { card.writeTo(a, d); }); },
  readFrom: function (a, n) { var r; calls++; reads++; [0].forEach(function () { r = card.readFrom(a, n); }); return r; } };
`;

function callgrind(bin: string, dir: string, script: string): Counted {
  writeFileSync(join(dir, "s.js"), script);
  try { execFileSync("rm", ["-f", join(dir, "espruino.flash")]); } catch (e) { /* none yet */ }
  const out = execFileSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=cg.out", "--compress-strings=no", "--compress-pos=no",
    "--toggle-collect=jswrap_array_reduce", "--toggle-collect=jswrap_array_forEach", bin, "s.js"],
  { cwd: dir, input: "", encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: 900e3 });
  const m = /RESULT (\w+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error("the counted run did not finish: " + out.slice(-300));
  return Object.assign(parseCallgrind(readFileSync(join(dir, "cg.out"), "utf8")), { state: m[1], turns: Number(m[2]), calls: Number(m[3]), reads: Number(m[4]) });
}

/** A whole update of `chunks` chunks of `chunk` bytes, counted. */
function update(bin: string, dir: string, chunk: number, chunks: number, transport: string): Counted {
  const img = Buffer.alloc(chunk * chunks);
  for (let i = 0; i < img.length; i++) img[i] = (i * 13 + (i >> 8)) & 255;
  writeFileSync(join(dir, "img.bin"), img);
  // Inside a function, so the harness adds no global names: the interpreter looks every global
  // name up in a list, and more of them would slow the module down.
  const r = callgrind(bin, dir, readFileSync(join(dir, "card.js"), "utf8") + "(function () {" + HARNESS + `
Modules.addCached("NotecardDFU", require("fs").readFileSync("m.js"));
Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("i.js"));
require("NotecardDFUInstall").reserve({ board: "LINUX" });
require("Storage").write(".bootcde", "print(1);");
require("NotecardDFUInstall").provision({ board: "LINUX", version: "1.0.0", chunkSize: ${chunk} }, undefined, function (err) {
  if (err) return print("provision " + err.message);
  card = new FakeNotecard(require("fs").readFileSync("img.bin"));
  var res, dfu = require("NotecardDFU").setup({ i2c: bus, timers: timers, clock: function () { return now; }, reboot: function () {},
    version: "1.0.0", transport: ${transport} });
  [0].reduce(function () { dfu.check(function (e, r) { res = r; }); run(); }, 0);
  print("RESULT " + (res && res.state) + " " + turns + " " + calls + " " + reads);
});
})();`);
  if (r.state !== "updated") throw new Error(`the counted update ended ${r.state}`);
  return r;
}

/** The harness alone: per timer turn and per bus call (each turn below makes 1 or 2 calls). */
function harness(bin: string, dir: string): { turn: number; call: number } {
  const count = (callsPerTurn: number) => callgrind(bin, dir, `function FakeNotecard() {}
(function () {` + HARNESS + `
card = { writeTo: function () {}, readFrom: function () { return 0; } };
var k = 0;
function tick() { if (++k < 1000) timers.set(tick, 0); bus.readFrom(23, 2);${callsPerTurn > 1 ? " bus.readFrom(23, 2);" : ""} }
[0].reduce(function () { timers.set(tick, 0); run(); }, 0);
print("RESULT updated " + turns + " " + calls + " " + reads);
})();`).total;
  const one = count(1), two = count(2);
  return { call: (two - one) / 1000, turn: (one - (two - one)) / 1000 };
}

const FLASH = /jswrap_flash_/;

/** Per chunk of `chunk` bytes: the difference between updates of `small` and `large` chunks. */
function perChunk(bin: string, dir: string, cal: { turn: number; call: number }, chunk: number, transport: string, small = 4, large = 12): ChunkWork {
  const a = update(bin, dir, chunk, small, transport), b = update(bin, dir, chunk, large, transport), n = large - small;
  const d = (x: number, y: number) => (y - x) / n;
  const turns = d(a.turns, b.turns), calls = d(a.calls, b.calls);
  const nat = Object.keys(b.natives).map((f) => [f, d(a.natives[f] || 0, b.natives[f])] as [string, number]);
  const flash = nat.filter(([f]) => FLASH.test(f)).reduce((s, [, v]) => s + v, 0);
  const natives = nat.filter(([f]) => !FLASH.test(f) && !/array_(reduce|forEach)/.test(f)).reduce((s, [, v]) => s + v, 0);
  const module = d(a.total, b.total) - turns * cal.turn - calls * cal.call - flash;
  const top = Object.keys(b.self).map((f) => [f, d(a.self[f] || 0, b.self[f])] as [string, number]).sort((x, y) => y[1] - x[1]).slice(0, 8);
  const nativeTop = nat.filter(([f]) => !/array_(reduce|forEach)/.test(f)).sort((x, y) => y[1] - x[1]).slice(0, 8);
  return { chunk, module, natives, flash, reads: d(a.reads, b.reads), turns, top, nativeTop };
}

export interface Binary {
  /** Per 4 KiB chunk: the decode, and one more request and answer. */
  decode: number;
  request: number;
  wireBytes: number;
}

export interface Work {
  rows: ChunkWork[];
  /** The cost of one more I2C read exchange: 4 KiB chunks at MTU 126 against 253. */
  perRead: number;
  /** The reference parameters' transport, 4 KiB chunks. */
  reference: ChunkWork;
  harness: { turn: number; call: number };
  /** Two counts of the same update, for the determinism check. */
  repeat: [number, number];
  /** The same native work per 4 KiB chunk in a straight-line loop (floorWork). */
  floor: ChunkWork;
  binary: Binary;
}

const DEFAULT_TRANSPORT = "{}";

/** Everything the bench prints about the interpreter's work; null without an interpreter or valgrind. */
export function interpreterWork(root: string, referenceTransport: object): Work | string {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin || !existsSync(bin)) return "not measured (set ESPRUINO_BIN to an Espruino Linux release build)";
  try { execFileSync("valgrind", ["--version"]); } catch (e) { return "not measured (valgrind is not installed: apt-get install valgrind)"; }
  const dir = mkdtempSync(join(tmpdir(), "notecard-dfu-cg-"));
  copyFileSync(join(root, "dist/NotecardDFU.min.js"), join(dir, "m.js"));
  copyFileSync(join(root, "dist/NotecardDFUInstall.min.js"), join(dir, "i.js"));
  copyFileSync(join(root, "test/espruino/fake-notecard.js"), join(dir, "card.js"));
  const cal = harness(bin, dir);
  const rows = [1024, 2048, 4096].map((c) => perChunk(bin, dir, cal, c, DEFAULT_TRANSPORT));
  const half = perChunk(bin, dir, cal, 4096, "{ mtu: 126 }");
  const four = rows[2];
  const reference = perChunk(bin, dir, cal, 4096, JSON.stringify(referenceTransport));
  const repeat: [number, number] = [update(bin, dir, 4096, 4, DEFAULT_TRANSPORT).total, update(bin, dir, 4096, 4, DEFAULT_TRANSPORT).total];
  const dec = binaryDecodeCost(bin, dir);
  const binary = { decode: dec.instructions, wireBytes: dec.wireBytes, request: requestCost(bin, dir, cal) };
  return { rows, perRead: (half.module - four.module) / (half.reads - four.reads), reference, harness: cal, repeat, binary, floor: floorWork(bin, dir, cal) };
}

/**
 * The floor: the same native work per 4 KiB chunk (request with crc, back-to-back reads into one
 * buffer, the reply's crc, the payload decoded in place with the CRC prefix, the base64 check,
 * four 1 KiB pages erased and written, the read-back and the running CRC) driven by a
 * straight-line ES5 loop: no event-loop turns, no state table, no journal, no retries. What the
 * module's JS costs above what any JS driving these natives costs on this interpreter.
 */
function floorWork(bin: string, dir: string, cal: { turn: number; call: number }): ChunkWork {
  const count = (chunks: number) => {
    const img = Buffer.alloc(4096 * chunks);
    for (let i = 0; i < img.length; i++) img[i] = (i * 13 + (i >> 8)) & 255;
    writeFileSync(join(dir, "img.bin"), img);
    return callgrind(bin, dir, readFileSync(join(dir, "card.js"), "utf8") + "(function () {" + HARNESS + `
(function () {
var Flash = require("Flash");
var rx = new Uint8Array(4 * Math.ceil(4096 / 3) + 256 + 2), h = new Uint8Array(2), crc = 0, seq = 0, base = 0x10020000, total = ${chunks * 4096};
var T = [0, 0xdb710641, 0x6d930ac3, 0xb6e20c82, 0xdb261586, 0x005713c7, 0xb6b51f45, 0x6dc41904,
  0x6d3d2d4d, 0xb64c2b0c, 0x00ae278e, 0xdbdf21cf, 0xb61b38cb, 0x6d6a3e8a, 0xdb883208, 0x00f93449];
function prefix(c) {
  var r = ~c;
  for (var j = 0; j < 8; j++) r = (r << 4) ^ T[r >>> 28];
  r ^= 0xbe26ed00;
  return String.fromCharCode(0, 0, r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, (r >>> 24) & 0xff);
}
function hex(v, d) { return ("0000000" + (v >>> 0).toString(16)).substr(-d).toUpperCase(); }
function chunkAt(off, n) {
  var req = JSON.stringify({ req: "dfu.get", offset: off, length: n }), line, len = 0, r, m, a, b, s, at, q, d, i, k, t, back, p;
  line = req.substr(0, req.length - 1) + ',"crc":"' + hex(seq, 4) + ":" + hex(E.CRC32(req), 8) + '"}\\n';
  rx[0] = line.length;
  rx.set(line, 1);
  bus.writeTo(0x17, rx.subarray(0, line.length + 1));
  h[0] = 0;
  h[1] = 0;
  bus.writeTo(0x17, h);
  r = bus.readFrom(0x17, 2);
  while (r[0]) {
    m = r[0] < 253 ? r[0] : 253;
    h[1] = m;
    bus.writeTo(0x17, h);
    r = bus.readFrom(0x17, m + 2);
    a = rx[len];
    b = rx[len + 1];
    rx.set(r, len);
    rx[len] = a;
    rx[len + 1] = b;
    len += m;
  }
  s = E.toString(rx);
  at = len + 2 - 2 - 23;
  if (s.substr(at, 8) !== ',"crc":"' || s.substr(2, 12) !== '{"payload":"') throw Error("reply");
  q = 14 + ((n + 2) / 3 | 0) * 4;
  if (s.charCodeAt(q) !== 34 || parseInt(s.substr(at + 8, 4), 16) !== seq) throw Error("payload");
  a = rx[at];
  rx[at] = 125;
  if (E.CRC32(rx.subarray(2, at + 1)) !== parseInt(s.substr(at + 13, 8), 16)) throw Error("crc");
  rx[at] = a;
  rx.subarray(0, 14).fill(32);
  rx.subarray(q).fill(32);
  rx.set(btoa(prefix(crc)), 6);
  d = atob(s);
  if (d.length !== n + 6) throw Error("length");
  for (i = 0, k = 384 * (n >> 10); i < n + 6; i += k) {
    t = btoa(new Uint8Array(E.toArrayBuffer(d), i, Math.min(k, n + 6 - i)));
    if (t !== s.substr(6 + i / 3 * 4, t.length)) throw Error("base64");
  }
  for (p = 0; p < n; p += 1024) {
    Flash.erasePage(base + off + p);
    Flash.write(new Uint8Array(E.toArrayBuffer(d), 6 + p, 1024), base + off + p);
  }
  back = Flash.read(n, base + off);
  if (E.CRC32(E.toString(back)) !== E.CRC32(new Uint8Array(E.toArrayBuffer(d), 6, n))) throw Error("read-back");
  crc = E.CRC32(d);
  seq = (seq + 1) & 0xffff;
}
card = new FakeNotecard(require("fs").readFileSync("img.bin"));
[0].reduce(function () { for (var off = 0; off < total; off += 4096) chunkAt(off, 4096); }, 0);
print("RESULT " + (crc === E.CRC32(card.image) ? "updated" : "crc-mismatch") + " " + turns + " " + calls + " " + reads);
})();
})();`);
  };
  const a = count(4), b = count(12), d = (x: number, y: number) => (y - x) / 8;
  // The loop's running CRC must match the image's, or it did not do the work.
  if (a.state !== "updated" || b.state !== "updated") throw new Error(`the floor loop ended ${a.state}, ${b.state}`);
  const nat = Object.keys(b.natives).map((f) => [f, d(a.natives[f] || 0, b.natives[f])] as [string, number]);
  const flash = nat.filter(([f]) => FLASH.test(f)).reduce((s, [, v]) => s + v, 0);
  const natives = nat.filter(([f]) => !FLASH.test(f) && !/array_(reduce|forEach)/.test(f)).reduce((s, [, v]) => s + v, 0);
  const calls = d(a.calls, b.calls);
  return { chunk: 4096, module: d(a.total, b.total) - calls * cal.call - flash, natives, flash, reads: d(a.reads, b.reads), turns: 0, top: [], nativeTop: [] };
}

/** One more JSON request and answer (card.version) through the module: what a second request per chunk costs. */
function requestCost(bin: string, dir: string, cal: { turn: number; call: number }): number {
  const count = (n: number) => {
    const r = callgrind(bin, dir, readFileSync(join(dir, "card.js"), "utf8") + "(function () {" + HARNESS + `
Modules.addCached("NotecardDFU", require("fs").readFileSync("m.js"));
card = new FakeNotecard(null);
var dfu = require("NotecardDFU").setup({ i2c: bus, timers: timers, clock: function () { return now; }, reboot: function () {},
  version: "1.0.0", layout: { slots: [{ file: "a" }, { file: "b" }], record: { file: "r" } } }), left = ${n};
function next() { if (left-- > 0) dfu.request({ req: "card.version" }, next); }
[0].reduce(function () { next(); run(); }, 0);
print("RESULT updated " + turns + " " + calls + " " + reads);
})();`);
    return r.total - r.turns * cal.turn - r.calls * cal.call;
  };
  return (count(12) - count(4)) / 8;
}

/**
 * Decoding a binary dfu.get chunk as board-time.md describes it: the XOR with 0x0A undone by
 * E.mapInPlace with a 256-byte table, then one set(subarray) per COBS block; for a 4 KiB chunk of
 * JavaScript text (no zero bytes).
 */
function binaryDecodeCost(bin: string, dir: string): { instructions: number; wireBytes: number } {
  const count = (reps: number) => callgrind(bin, dir, `(function () {
var src = new Uint8Array(4096), i, k;
for (i = 0; i < 4096; i++) src[i] = 32 + (i * 13 + (i >> 8)) % 95;
// COBS: a code byte per block of up to 254 non-zero bytes, then every byte XOR 0x0A.
var enc = new Uint8Array(4096 + 20), o = 0;
for (i = 0; i < 4096; i += 254) { k = Math.min(254, 4096 - i); enc[o++] = k + 1; enc.set(src.subarray(i, i + k), o); o += k; }
for (i = 0; i < o; i++) enc[i] ^= 10;
var lut = new Uint8Array(256); for (i = 0; i < 256; i++) lut[i] = i ^ 10;
var buf = new Uint8Array(o), out = new Uint8Array(4096), n = o;
[0].reduce(function () {
  for (var r = 0; r < ${reps}; r++) {
    buf.set(enc.subarray(0, n));
    E.mapInPlace(buf, buf, lut);
    for (var p = 0, q = 0; p < n; ) { var c = buf[p]; out.set(buf.subarray(p + 1, p + c), q); q += c - 1; p += c; if (c < 255 && p < n) out[q++] = 0; }
  }
}, 0);
print("RESULT updated 0 0 " + n);
})();`);
  const a = count(2), b = count(6);
  // The buf.set of the encoded bytes stands for the receive path, which the base64 path has too.
  return { instructions: (b.total - a.total) / 4, wireBytes: b.reads };
}
