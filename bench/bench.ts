// npm run bench: transfer time against the I2C wire floor and the reference loop's parameters,
// host CPU per MiB, the shipped files' sizes and, given interpreters (ESPRUINO_BIN,
// ESPRUINO_FIXED_BIN), the hot path and the module's JsVars per chunk size, from one run.
// `-- --save` writes bench/results.md with the machine description.
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "fs";
import { cpus, tmpdir, totalmem } from "os";
import { join, resolve } from "path";
import { appImage, loadBundle, loadInstall, SimBoard } from "../sim/board";
import { uniformPages } from "../sim/flash";
import { BUDGETS, RUNTIME_TARGET_BYTES } from "../tools/espruino-gate";
import { measureRam } from "../test/helpers/ram";

const ROOT = resolve(__dirname, "..");
const NotecardDFU = loadBundle();
const Install = loadInstall();
const LATENCY_MS = 10; // card processing per request: the stated latency model
const KiB = 1024;

/** A board with room for a 1 MiB image: uniform 4 KiB pages, raw slots, no flash time. */
function benchBoard(bitrate: number): { board: SimBoard; layout: any } {
  const pages = uniformPages(0x100000, 4096, 640);
  const board = new SimBoard({ board: "BENCH", geometry: { pages, free: [{ addr: 0x100000, length: 640 * 4096 }] }, notecard: { bitrate, latencyMs: LATENCY_MS, needsDfuMode: false } });
  const layout = { slots: [{ addr: 0x100000, length: 1280 * KiB }, { addr: 0x240000, length: 1216 * KiB }], record: { addr: 0x370000, length: 64 * KiB } };
  return { board, layout };
}

interface Run { seconds: number; cpuMs: number; chunks: number; busMs: number; wireBytes: number; requests: number }

/** One update of `size` bytes; returns the virtual copy time (first dfu.get to image verified). */
function transfer(size: number, bitrate: number, options: any): Run {
  const { board, layout } = benchBoard(bitrate);
  const common = Object.assign(board.ports(), { layout, memoryMapped: false });
  board.saveApp(appImage("1.0.0"));
  let done: any = null;
  Install.provision(Object.assign({}, common, { version: "1.0.0" }), undefined, (e: any) => { done = e || "ok"; });
  board.clock.runUntil(() => done !== null);
  board.card.stage({ data: new Uint8Array(Buffer.from(appImage("2.0.0", { size }), "latin1")), version: "2.0.0" });
  let start = -1, end = -1, wire0 = 0, bus0 = 0;
  const dfu = NotecardDFU.setup(Object.assign({}, common, { version: "1.0.0" }, options, {
    onEvent: (t: string) => { if (/^verified/.test(t)) end = board.clock.now; }
  }));
  board.card.onRequest = (req) => {
    if (req.req === "dfu.get" && req.length > 0 && start < 0) { start = board.clock.now; bus0 = board.card.busTimeMs; wire0 = board.card.portCalls; }
  };
  const cpu0 = process.cpuUsage();
  done = null;
  dfu.check((e: any, r: any) => { done = r; });
  board.clock.runUntil(() => done !== null, 24 * 3600e3);
  const cpu = process.cpuUsage(cpu0);
  if (done.state !== "updated") throw new Error("bench update failed: " + JSON.stringify(done));
  const requests = board.card.log.filter((l) => l.req.req === "dfu.get" && l.req.length > 0);
  // Time of the first chunk's request itself is not seen by onRequest (it fires after the write):
  // count from the card's answer to the first chunk request minus its write, a few ms at most.
  const wireBytes = requests.reduce((n, l) => n + l.raw.length + 2, 0);
  return { seconds: (end - start) / 1000, cpuMs: (cpu.user + cpu.system) / 1000, chunks: requests.length, busMs: board.card.busTimeMs - bus0, wireBytes, requests: requests.length };
}

/** The wire floor: every byte the copy must move (request lines, response lines, framing) at 9 bits
 * per byte plus START/STOP, with the 1 ms the card needs after each write, and no other wait. */
function wireFloor(size: number, chunk: number, bitrate: number, sample: Run): number {
  const chunks = Math.ceil(size / chunk);
  const bitsFor = (bytes: number) => (bytes + 1) * 9 + 2; // address byte + data, START/STOP
  let bits = 0, ms = 0;
  const avgRsp = sample.wireBytes / sample.requests;
  const req = 70; // {"req":"dfu.get","offset":…,"length":4096,"crc":"SSSS:CCCCCCCC"}\n
  for (let i = 0; i < chunks; i++) {
    const writes = Math.ceil(req / 253);
    bits += writes * bitsFor(0) + bitsFor(req) + writes * 0; // length byte per write folded in
    ms += 1; // the card's minimum gap after a write
    const reads = Math.ceil(avgRsp / 253);
    bits += bitsFor(2) + bitsFor(2); // one data query: setup [0,0] and [AVAIL, COUNT]
    bits += reads * (bitsFor(2) + bitsFor(2)) + bitsFor(avgRsp); // per read: setup + header, then data
  }
  return (bits / bitrate) + ms / 1000;
}

/** note-c's pacing with note-arduino on a generic Arduino (30-byte Wire buffer), as transport overrides (README). */
const NOTE_C_REFERENCE = { chunkSize: 4096, transport: { mtu: 30, gapMs: 6, chunkDelayMs: 20, readDelayMs: 2, pollMs: 50 } };

function fmt(n: number, d = 2): string {
  return n.toFixed(d);
}

function espruinoMeasurements(): { hot?: string; md5?: string } {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin || !existsSync(bin)) return {};
  const dir = mkdtempSync(join(tmpdir(), "notecard-dfu-bench-"));
  const run = (code: string) => execFileSync(bin, ["-e", code], { cwd: dir, input: "", encoding: "utf8", timeout: 300e3 });
  copyFileSync(join(ROOT, "dist/NotecardDFU.min.js"), join(dir, "m.js"));
  copyFileSync(join(ROOT, "dist/NotecardDFUInstall.min.js"), join(dir, "i.js"));
  copyFileSync(join(ROOT, "dist/NotecardDFUMD5.min.js"), join(dir, "md5.js"));
  const fake = readFileSync(join(ROOT, "test/espruino/fake-notecard.js"), "utf8");
  const out: { hot?: string; md5?: string } = {};
  const md5 = run(`Modules.addCached("NotecardDFUMD5", require("fs").readFileSync("md5.js")); var M = require("NotecardDFUMD5");
    var d = new Uint8Array(4096); for (var i = 0; i < 4096; i++) d[i] = (i * 7) & 255;
    var t0 = getTime(); for (i = 0; i < 5; i++) M.hex(d); var t1 = getTime();
    for (i = 0; i < 50; i++) E.CRC32(d); var t2 = getTime();
    print("MD5 " + ((t1 - t0) * 1000 / 5).toFixed(2) + " " + ((t2 - t1) * 1000 / 50).toFixed(3));`);
  const mm = /MD5 ([\d.]+) ([\d.]+)/.exec(md5);
  if (mm) out.md5 = `${mm[1]} ms per 4 KiB chunk on the Espruino Linux build vs E.CRC32 ${mm[2]} ms (${fmt(Number(mm[1]) / Number(mm[2]), 0)}x)`;
  // Hot path: a copy of 14 chunks of 4 KiB. JS time is summed inside every timer callback the
  // module schedules (so the Linux build's idle sleeps between turns do not count), minus the time
  // spent inside the fake bus and inside page erases; then compared with the natives alone.
  // The module is loaded into RAM the way the IDE uploads modules (Modules.addCached): on the Linux
  // build, code run from Storage is re-read from its flash file on every lexer step, which no board
  // with memory-mapped flash does.
  const hot = run(fake + `
    Modules.addCached("NotecardDFU", require("fs").readFileSync("m.js"));
    Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("i.js"));
    var img = ""; for (var i = 0; i < 14 * 4096; i++) img += String.fromCharCode((i * 13 + (i >> 8)) & 255);
    require("Storage").write(".bootcde", "print(1);");
    var F = require("Flash");
    require("NotecardDFUInstall").provision({ board: "LINUX", version: "1.0.0" }, undefined, function () {
      var card = new FakeNotecard(img);
      var js = 0, bus = 0, erase = 0, timing = false;
      function timed(fn, add) { return function () { var t = getTime(); var r = fn.apply(null, arguments); add(getTime() - t); return r; }; }
      var timers = { set: function (fn, ms) { return setTimeout(function () { var t = getTime(); fn(); if (timing) js += getTime() - t; }, ms); }, clear: clearTimeout };
      var i2c = { writeTo: timed(function (a, d) { card.writeTo(a, d); }, function (t) { bus += t; }),
                  readFrom: timed(function (a, n) { return card.readFrom(a, n); }, function (t) { bus += t; }) };
      var flash = { getPage: F.getPage, getFree: F.getFree, read: function (l, a) { return F.read(l, a); }, write: function (d, a) { F.write(d, a); },
                    erasePage: timed(function (a) { F.erasePage(a); }, function (t) { erase += t; }) };
      var dfu = require("NotecardDFU").setup({ i2c: i2c, flash: flash, timers: timers, board: "LINUX", version: "1.0.0", reboot: function () {},
        transport: { gapMs: 0, pollMs: 0, readGapMs: 0, resetSettleMs: 1, drainMs: 5 } });
      dfu.request({ req: "card.version" }, function () {
        timing = true; bus = 0; erase = 0;
        dfu.check(function (err, res) {
          timing = false;
          var payloads = [];
          for (var k = 0; k < 14; k++) payloads.push(btoa(img.substr(k * 4096, 4096)));
          for (var p = 0; p < 60; p++) F.erasePage(0x1002F000 + p * 1024);
          var n0 = getTime();
          for (k = 0; k < 14; k++) { var b = atob(payloads[k]); E.CRC32(b); F.write(b, 0x1002F000 + k * 4096); }
          var n1 = getTime();
          print("HOT " + res.state + " " + ((js - bus - erase) * 1000 / 14).toFixed(3) + " " + ((n1 - n0) * 1000 / 14).toFixed(3) + " " + (bus * 1000 / 14).toFixed(3) + " " + (erase * 1000 / 14).toFixed(3));
        });
      });
    });`);
  const m = /HOT (\w+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)/.exec(hot);
  if (m) out.hot = `${m[2]} ms per 4 KiB chunk of module JS and the natives it calls (update cycle incl. read-back, journal; fake bus ${m[4]} ms and page erases ${m[5]} ms excluded) vs natives floor ${m[3]} ms (atob + E.CRC32 + Flash.write): ratio ${fmt(Number(m[2]) / Number(m[3]), 1)}x`;
  else out.hot = "failed: " + hot.slice(-300);
  return out;
}

/**
 * JsVars on an interpreter with a fixed variable count (ESPRUINO_FIXED_BIN, e.g. Puck.js's 2,630):
 * require from Storage, setup, and the peak of a whole 12 KB update above the usage before require,
 * per chunk size; and provisioning with the install module.
 */
/**
 * Instructions per 4 KiB chunk on the Linux interpreter under valgrind's callgrind (ESPRUINO_BIN and
 * valgrind given): a whole update of 4 and of 12 chunks, modules in RAM as the IDE loads them, the
 * test Notecard of test/espruino/fake-notecard.js; the difference over 8 chunks leaves out start-up
 * and provisioning. Module and test card together: the card's work per chunk is the same in every
 * build, so the figure compares builds.
 */
function instructionsPerChunk(): string {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin || !existsSync(bin)) return "not measured (set ESPRUINO_BIN)";
  try { execFileSync("valgrind", ["--version"]); } catch (e) { return "not measured (valgrind is not installed)"; }
  const count = (chunks: number): number => {
    const dir = mkdtempSync(join(tmpdir(), "notecard-dfu-cg-"));
    copyFileSync(join(ROOT, "dist/NotecardDFU.min.js"), join(dir, "m.js"));
    copyFileSync(join(ROOT, "dist/NotecardDFUInstall.min.js"), join(dir, "i.js"));
    const img = Buffer.alloc(chunks * 4096);
    for (let i = 0; i < img.length; i++) img[i] = (i * 13 + (i >> 8)) & 255;
    writeFileSync(join(dir, "img.bin"), img);
    writeFileSync(join(dir, "s.js"), readFileSync(join(ROOT, "test/espruino/fake-notecard.js"), "utf8") + `
Modules.addCached("NotecardDFU", require("fs").readFileSync("m.js"));
Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("i.js"));
require("Storage").write(".bootcde", "print(1);");
require("NotecardDFUInstall").provision({ board: "LINUX", version: "1.0.0" }, undefined, function () {
  var card = new FakeNotecard(require("fs").readFileSync("img.bin"));
  require("NotecardDFU").setup({ i2c: card, board: "LINUX", version: "1.0.0", reboot: function () {},
    transport: { gapMs: 0, pollMs: 0, readGapMs: 0, resetSettleMs: 1, drainMs: 5 } })
    .check(function (err, res) { print("STATE " + res.state); });
});`);
    const out = execFileSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=cg.out", bin, "s.js"], { cwd: dir, input: "", encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: 300e3 });
    if (!/STATE updated/.test(out)) throw new Error("the update did not complete: " + out.slice(-300));
    const m = /^summary: (\d+)/m.exec(readFileSync(join(dir, "cg.out"), "utf8"));
    return m ? Number(m[1]) : NaN;
  };
  const per = (count(12) - count(4)) / 8;
  return `${fmt(per / 1e6, 1)} M instructions per 4 KiB chunk (module and test card; callgrind, Linux release build, difference of 12- and 4-chunk updates)`;
}

function ramTable(say: (s?: string) => void, bytes: (f: string) => number) {
  const bin = process.env.ESPRUINO_FIXED_BIN;
  if (!bin || !existsSync(bin)) return say("JsVars: not measured (set ESPRUINO_FIXED_BIN to an Espruino Linux build with a fixed variable count)");
  say("| chunk | runtime B | install B | require | setup | update peak (module share) | install require | provisioning peak | of JsVars |");
  say("|---|---|---|---|---|---|---|---|---|");
  for (const chunk of [1024, 2048, 4096]) {
    const r = measureRam(bin, chunk);
    const ok = r.state === "updated" && !/MEMORY/.test(r.out);
    say(`| ${chunk} | ${bytes("NotecardDFU.min.js")} | ${bytes("NotecardDFUInstall.min.js")} | ${r.require} | ${r.setup} | ${ok ? r.peak : "FAILED: " + r.state} | ${r.installRequire} | ${r.provisionPeak} | ${r.total} |`);
  }
  say("JsVars from process.memory() after a garbage collection: 12 KB image, Storage-file slots, modules stored in Storage, a fake Notecard serving replies the host precomputed; peak sampled at every bus read, Storage access and CRC-32. Targets (1 KiB): require <= 350, setup <= 250, peak <= 800.");
}

/**
 * Where the runtime's bytes go: each source file it bundles, compiled to ES5 and minified alone
 * with the build's settings (a little more than its share of the bundle, which minifies across files).
 */
async function sizeBySource(say: (s?: string) => void) {
  const ts = await import("typescript");
  const { minify } = await import("terser");
  // One program, as the build compiles it, so const enums are inlined across files.
  const emitted: { [file: string]: string } = {};
  ts.createProgram([join(ROOT, "src/index.ts")], { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.ESNext, lib: ["lib.es5.d.ts"], types: [], strict: true, noEmitHelpers: true })
    .emit(undefined, (name, text) => { if (name.endsWith(".js")) emitted[name.replace(/\\/g, "/").replace(/.*\/src\//, "").replace(/\.js$/, "")] = text; });
  const rows: [string, number][] = [];
  for (const f of Object.keys(emitted).sort()) {
    const out = await minify(emitted[f], { ecma: 5, module: true, compress: { passes: 2 }, mangle: { properties: { regex: /^_[a-z0-9]/i } }, format: { comments: false } });
    const n = (out.code || "").replace(/import[^;]*;/g, "").replace(/export\{[^}]*\};?/g, "").length;
    // The MD5 add-on is in the program for its type only; it is not in the runtime.
    if (n && f !== "dfu/md5") rows.push([f, n]);
  }
  say("runtime by source file (each minified alone): " + rows.map(([f, n]) => `${f} ${n}`).join(", ") + `; sum ${rows.reduce((a, r) => a + r[1], 0)}`);
}

function main() {
  const save = process.argv.includes("--save");
  const lines: string[] = [];
  const say = (s = "") => { console.log(s); lines.push(s); };
  say("NotecardDFU benchmark: one run, simulator virtual clock");
  say(`card latency model: ${LATENCY_MS} ms per request; flash erase/write time excluded; modern card (no DFU mode)`);
  say("");
  say("| image | I2C | (a) NotecardDFU default | (b) reference parameters | (c) wire floor | a/c | b/a |");
  say("|---|---|---|---|---|---|---|");
  const ratios: { ac: number[]; ba: number[] } = { ac: [], ba: [] };
  let cpuMiB = 0;
  for (const size of [64 * KiB, 256 * KiB]) {
    for (const bitrate of [100000, 400000]) {
      const a = transfer(size, bitrate, { chunkSize: 4096 });
      const b = transfer(size, bitrate, NOTE_C_REFERENCE);
      const c = wireFloor(size, 4096, bitrate, a);
      ratios.ac.push(a.seconds / c);
      ratios.ba.push(b.seconds / a.seconds);
      say(`| ${size / KiB} KiB | ${bitrate / 1000} kHz | ${fmt(a.seconds)} s | ${fmt(b.seconds)} s | ${fmt(c)} s | ${fmt(a.seconds / c)} | ${fmt(b.seconds / a.seconds)} |`);
    }
  }
  const big = transfer(1024 * KiB, 400000, { chunkSize: 4096 });
  cpuMiB = big.cpuMs;
  say("");
  say(`(b): 4096-byte base64 chunks, 30-byte transfers, note-c's 6/20/250 ms delays, 2 ms setup-to-read, 50 ms polling (the note-c transport overrides).`);
  say(`(c): bytes of every request and response line plus Serial-over-I2C framing at 9 bits/byte + START/STOP, 1 ms after each write.`);
  say("");
  const bytes = (f: string) => readFileSync(join(ROOT, "dist", f)).length;
  const size = bytes("NotecardDFU.min.js");
  say(`host CPU (Node ${process.version}): ${fmt(cpuMiB, 0)} ms per MiB through dist/NotecardDFU.js with simulated ports (simulators included)`);
  say("");
  say("| file (minified) | bytes | gate budget |");
  say("|---|---|---|");
  for (const f of Object.keys(BUDGETS)) say(`| ${f} | ${bytes(f)} | ${BUDGETS[f]} |`);
  say(`runtime target: ${RUNTIME_TARGET_BYTES} bytes`);
  return sizeBySource(say).then(() => finishMain(say, lines, save, bytes, size, ratios, cpuMiB));
}

function finishMain(say: (s?: string) => void, lines: string[], save: boolean, bytes: (f: string) => number, size: number, ratios: { ac: number[]; ba: number[] }, cpuMiB: number) {
  say("");
  ramTable(say, bytes);
  say("");
  say(`interpreter work: ${instructionsPerChunk()}`);
  say("");
  const esp = espruinoMeasurements();
  if (esp.md5) say(`chunk MD5 (only for cards that do not echo the crc): ${esp.md5}`);
  if (esp.hot) say(`Espruino hot path: ${esp.hot}`);
  else say("Espruino hot path: not measured (set ESPRUINO_BIN to an Espruino Linux build)");
  say("");
  const worst = (xs: number[]) => Math.max(...xs), least = (xs: number[]) => Math.min(...xs);
  say(`targets: a/c <= 1.15 (worst ${fmt(worst(ratios.ac))}); b/a >= 2.5 (least ${fmt(least(ratios.ba))}); hot path <= 1.5x natives; runtime <= ${RUNTIME_TARGET_BYTES} B (${size} B)`);
  if (save) {
    const machine = `${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}`;
    writeFileSync(join(ROOT, "bench/results.md"), "# Benchmark results\n\nMachine: " + machine + "\n\n" + lines.join("\n") + "\n");
    console.log("\nwrote bench/results.md");
  }
}

Promise.resolve(main()).catch((e) => { console.error(e); process.exit(1); });
