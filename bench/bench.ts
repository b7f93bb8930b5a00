// npm run bench: transfer time against the I2C wire floor and the reference loop's parameters,
// host CPU per MiB, the shipped files' sizes and, given interpreters (ESPRUINO_BIN with valgrind,
// ESPRUINO_FIXED_BIN), the interpreter's instructions per chunk with the transfer times they model
// on a Pico, and the module's JsVars per chunk size, from one run.
// `-- --save` writes bench/results.md with the machine description.
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "fs";
import { cpus, tmpdir, totalmem } from "os";
import { join, resolve } from "path";
import { appImage, loadBundle, loadInstall, SimBoard } from "../sim/board";
import { uniformPages } from "../sim/flash";
import { BUDGETS, RUNTIME_TARGET_BYTES } from "../tools/espruino-gate";
import { measureRam } from "../test/helpers/ram";
import { interpreterWork, PICO_MODEL, PICO_NS_PER_INSTRUCTION } from "./interpreter-work";

const ROOT = resolve(__dirname, "..");
const NotecardDFU = loadBundle();
const Install = loadInstall();
const LATENCY_MS = 10; // card processing per request: the stated latency model
const KiB = 1024;

/** A board with room for a 1 MiB image: uniform 4 KiB pages, raw slots, no flash time. */
function benchBoard(bitrate: number): { board: SimBoard; layout: any } {
  const pages = uniformPages(0x100000, 4096, 656);
  const geometry = { pages, free: [{ addr: 0x100000, length: 640 * 4096 }], storage: { addr: 0x380000, length: 64 * KiB }, memory: { total: 200000, blocksize: 17, flash_code_start: 0x380000 } };
  const board = new SimBoard({ board: "BENCH", geometry, notecard: { bitrate, latencyMs: LATENCY_MS, needsDfuMode: false } });
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
  if (done !== "ok") throw new Error("bench provisioning failed: " + done);
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

function espruinoMeasurements(): { md5?: string } {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin || !existsSync(bin)) return {};
  const dir = mkdtempSync(join(tmpdir(), "notecard-dfu-bench-"));
  const run = (code: string) => execFileSync(bin, ["-e", code], { cwd: dir, input: "", encoding: "utf8", timeout: 300e3 });
  copyFileSync(join(ROOT, "dist/NotecardDFUMD5.min.js"), join(dir, "md5.js"));
  const out: { md5?: string } = {};
  const md5 = run(`Modules.addCached("NotecardDFUMD5", require("fs").readFileSync("md5.js")); var M = require("NotecardDFUMD5");
    var d = new Uint8Array(4096); for (var i = 0; i < 4096; i++) d[i] = (i * 7) & 255;
    var t0 = getTime(); for (i = 0; i < 5; i++) M.hex(d); var t1 = getTime();
    for (i = 0; i < 50; i++) E.CRC32(d); var t2 = getTime();
    print("MD5 " + ((t1 - t0) * 1000 / 5).toFixed(2) + " " + ((t2 - t1) * 1000 / 50).toFixed(3));`);
  const mm = /MD5 ([\d.]+) ([\d.]+)/.exec(md5);
  if (mm) out.md5 = `${mm[1]} ms per 4 KiB chunk on the Espruino Linux build vs E.CRC32 ${mm[2]} ms (${fmt(Number(mm[1]) / Number(mm[2]), 0)}x)`;
  return out;
}

/**
 * JsVars on an interpreter with a fixed variable count (ESPRUINO_FIXED_BIN, e.g. Puck.js's 2,630):
 * require from Storage, setup, and the peak of a whole 12 KB update above the usage before require,
 * per chunk size; and provisioning with the install module.
 */
function ramTable(say: (s?: string) => void, bytes: (f: string) => number) {
  const bin = process.env.ESPRUINO_FIXED_BIN;
  if (!bin || !existsSync(bin)) return say("JsVars: not measured (set ESPRUINO_FIXED_BIN to an Espruino Linux build with a fixed variable count)");
  say("| chunk | runtime B | install B | require | setup | update peak (module share) | install require | provisioning peak | of JsVars |");
  say("|---|---|---|---|---|---|---|---|---|");
  for (const chunk of [1024, 2048, 4096]) {
    const r = measureRam(bin, chunk);
    const ok = r.state === "updated" && !/MEMORY/.test(r.out);
    say(`| ${chunk} | ${bytes("NotecardDFU.pretok")} | ${bytes("NotecardDFUInstall.pretok")} | ${r.require} | ${r.setup} | ${ok ? r.peak : "FAILED: " + r.state} | ${r.installRequire} | ${r.provisionPeak} | ${r.total} |`);
  }
  say("JsVars from process.memory() after a garbage collection: 12 KB image, slots in a reservation of 4 KB units, modules stored in Storage pretokenised (sizes above), a fake Notecard serving replies the host precomputed; peak sampled at every bus read, Storage access and CRC-32. Targets (1 KiB): require <= 350, setup <= 250, peak <= 800.");
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
    // In the program for their types only, not in the runtime: the MD5 add-on, and the two tables
    // the tests hold the code to (the boot state's events, the update loop's phases).
    if (n && ["dfu/md5", "slots/states", "dfu/flow"].indexOf(f) < 0) rows.push([f, n]);
  }
  say("runtime by source file (each minified alone): " + rows.map(([f, n]) => `${f} ${n}`).join(", ") + `; sum ${rows.reduce((a, r) => a + r[1], 0)}`);
}

const M = (n: number, d = 1) => fmt(n / 1e6, d);
const BINARY_JSON_BYTES = 30 + 60 + 40; // dfu.get's answer, the card.binary.get request and its answer, with crc fields

/** Bus bits of a response of `bytes` bytes read at MTU 253: per read a setup write and a header, and the data. */
function readBits(bytes: number): number {
  const bitsFor = (n: number) => (n + 1) * 9 + 2;
  return Math.ceil(bytes / 253) * (bitsFor(2) + bitsFor(2)) + bitsFor(bytes) + bitsFor(2) * 2;
}

function main() {
  const save = process.argv.includes("--save");
  const lines: string[] = [];
  const say = (s = "") => { console.log(s); lines.push(s); };
  const work = interpreterWork(ROOT, NOTE_C_REFERENCE.transport);
  const w = typeof work === "string" ? null : work;
  const four = w ? w.rows[2] : null;
  const pico = (seconds: number, chunks: number, perChunk: number) => seconds + chunks * perChunk * PICO_NS_PER_INSTRUCTION * 1e-9;
  say("NotecardDFU benchmark: one run, simulator virtual clock");
  say(`card latency model: ${LATENCY_MS} ms per request; flash erase/write time excluded; modern card (no DFU mode)`);
  say("");
  say("| image | I2C | (a) NotecardDFU default | (b) reference parameters | (c) wire floor | a/c | b/a | (a) modelled on a Pico | (b) modelled on a Pico | Pico a/c |");
  say("|---|---|---|---|---|---|---|---|---|---|");
  const ratios: { ac: number[]; ba: number[]; pico: { [rate: string]: number }; floor: { [rate: string]: number } } = { ac: [], ba: [], pico: {}, floor: {} };
  const perChunkBus: { [rate: string]: { seconds: number; rsp: number } } = {};
  let cpuMiB = 0;
  for (const size of [64 * KiB, 256 * KiB]) {
    for (const bitrate of [100000, 400000]) {
      const a = transfer(size, bitrate, { chunkSize: 4096 });
      const b = transfer(size, bitrate, NOTE_C_REFERENCE);
      const c = wireFloor(size, 4096, bitrate, a);
      ratios.ac.push(a.seconds / c);
      ratios.ba.push(b.seconds / a.seconds);
      const pa = four ? pico(a.seconds, a.chunks, four.module) : NaN, pb = w ? pico(b.seconds, b.chunks, w.reference.module) : NaN;
      if (size === 256 * KiB) {
        ratios.pico[bitrate] = pa / c;
        ratios.floor[bitrate] = w ? pico(a.seconds, a.chunks, w.floor.module) / c : NaN;
        perChunkBus[bitrate] = { seconds: a.seconds / a.chunks, rsp: a.wireBytes / a.requests };
      }
      const m = (x: number) => (isNaN(x) ? "not measured" : fmt(x) + " s");
      say(`| ${size / KiB} KiB | ${bitrate / 1000} kHz | ${fmt(a.seconds)} s | ${fmt(b.seconds)} s | ${fmt(c)} s | ${fmt(a.seconds / c)} | ${fmt(b.seconds / a.seconds)} | ${m(pa)} | ${m(pb)} | ${isNaN(pa) ? "-" : fmt(pa / c)} |`);
    }
  }
  const big = transfer(1024 * KiB, 400000, { chunkSize: 4096 });
  cpuMiB = big.cpuMs;
  say("");
  say(`(b): 4096-byte base64 chunks, 30-byte transfers, note-c's 6/20/250 ms delays, 2 ms setup-to-read, 50 ms polling (the note-c transport overrides).`);
  say(`(c): bytes of every request and response line plus Serial-over-I2C framing at 9 bits/byte + START/STOP, 1 ms after each write.`);
  say(`Modelled on a Pico: the virtual bus time plus the module's instructions per chunk (below) times the model: ${PICO_MODEL}.`);
  say("");
  say("Interpreter work (callgrind, Espruino Linux release build, minified runtime in RAM as the IDE loads it, LINUX profile, virtual clock; per chunk = difference of a 12- and a 4-chunk update over 8 chunks):");
  if (!w) say(String(work));
  else {
    say("");
    say("| chunk | module, M instructions per chunk | of which natives | JS | I2C reads per chunk | per read (average) | event-loop turns per chunk | flash emulation (apart) |");
    say("|---|---|---|---|---|---|---|---|");
    for (const r of w.rows) say(`| ${r.chunk} | ${M(r.module)} | ${M(r.natives)} | ${M(r.module - r.natives)} | ${fmt(r.reads, 1)} | ${M(r.module / r.reads, 2)} | ${fmt(r.turns, 1)} | ${M(r.flash, 2)} |`);
    say(`| 4096, reference parameters (b) | ${M(w.reference.module)} | ${M(w.reference.natives)} | ${M(w.reference.module - w.reference.natives)} | ${fmt(w.reference.reads, 1)} | ${M(w.reference.module / w.reference.reads, 2)} | ${fmt(w.reference.turns, 1)} | ${M(w.reference.flash, 2)} |`);
    say("");
    say(`one more I2C read exchange (4 KiB chunks at MTU 126 against 253): ${M(w.perRead, 2)} M instructions`);
    say(`natives per 4 KiB chunk: ${four!.nativeTop.map(([f, v]) => `${f.replace(/^(gen_)?jswrap_/, "")} ${M(v, 2)}`).join(", ")}`);
    say(`C functions per 4 KiB chunk (self, module and harness): ${four!.top.map(([f, v]) => `${f} ${M(v, 2)}`).join(", ")}`);
    const f = w.floor;
    say(`floor: the same native work per 4 KiB chunk driven by a straight-line ES5 loop (no event-loop turns, state table, journal or retries): ${M(f.module)} M (natives ${M(f.natives)}, JS ${M(f.module - f.natives)}); the module's 4 KiB chunk is ${fmt(four!.module / f.module)}x it, its JS ${fmt((four!.module - four!.natives) / (f.module - f.natives))}x; with the floor's count, 256 KiB would model on a Pico at ${fmt(ratios.floor[100000])}x the wire floor at 100 kHz and ${fmt(ratios.floor[400000])}x at 400 kHz`);
    say(`taken out: the test card (run where collection is off), the harness (calibrated alone: ${M(w.harness.turn, 3)} M per timer turn, ${M(w.harness.call, 3)} M per bus call) and the flash emulation's natives; deterministic: the same update counted twice gave ${w.repeat[0]} and ${w.repeat[1]} instructions`);
    say("");
    const b = w.binary, drop = four!.nativeTop.filter(([f]) => /atob|btoa|substr/.test(f)).reduce((x, [, v]) => x + v, 0);
    say(`binary dfu.get, modelled per 4 KiB chunk on a Pico: decode ${M(b.decode)} M instructions (E.mapInPlace undoes the XOR, one set(subarray) per COBS block, ${b.wireBytes} bytes on the wire), one more request and answer ${M(b.request)} M; base64's atob (${M(drop)} M) and ${fmt(four!.reads - Math.ceil((b.wireBytes + 1) / 253) - 2, 0)} reads fewer saved`);
    for (const rate of [100000, 400000]) {
      const base = perChunkBus[rate];
      const binReads = Math.ceil((b.wireBytes + 1) / 253) + 2;
      const instr = four!.module - drop - w.perRead * (four!.reads - binReads) + b.decode + b.request;
      const bus = base.seconds + (readBits(b.wireBytes + 1 + BINARY_JSON_BYTES) - readBits(base.rsp)) / rate + (LATENCY_MS + 1) / 1000;
      const t64 = base.seconds + four!.module * PICO_NS_PER_INSTRUCTION * 1e-9, tb = bus + instr * PICO_NS_PER_INSTRUCTION * 1e-9;
      say(`  ${rate / 1000} kHz: base64 ${fmt(t64, 3)} s (bus ${fmt(base.seconds, 3)} s), binary ${fmt(tb, 3)} s (bus ${fmt(bus, 3)} s): ${fmt((1 - tb / t64) * 100, 0)} % ${tb < t64 ? "faster" : "slower"} (threshold for implementing it: 10 %)`);
    }
  }
  say("");
  const bytes = (f: string) => readFileSync(join(ROOT, "dist", f)).length;
  const size = bytes("NotecardDFU.min.js");
  say(`host CPU (Node ${process.version}): ${fmt(cpuMiB, 0)} ms per MiB through dist/NotecardDFU.js with simulated ports (simulators included)`);
  say("");
  say("| file (minified) | bytes | gate budget | pretokenised (what Storage holds) |");
  say("|---|---|---|---|");
  for (const f of Object.keys(BUDGETS)) {
    const tok = f.replace(".min.js", ".pretok");
    say(`| ${f} | ${bytes(f)} | ${BUDGETS[f]} | ${existsSync(join(ROOT, "dist", tok)) ? bytes(tok) : "-"} |`);
  }
  say(`runtime target: ${RUNTIME_TARGET_BYTES} bytes`);
  return sizeBySource(say).then(() => finishMain(say, lines, save, bytes, size, ratios, four ? four.module : NaN, w ? w.perRead : NaN));
}

function finishMain(say: (s?: string) => void, lines: string[], save: boolean, bytes: (f: string) => number, size: number, ratios: { ac: number[]; ba: number[]; pico: { [rate: string]: number } }, perChunk: number, perRead: number) {
  say("");
  ramTable(say, bytes);
  say("");
  const esp = espruinoMeasurements();
  if (esp.md5) say(`chunk MD5 (only for cards that do not echo the crc): ${esp.md5}`);
  say("");
  const worst = (xs: number[]) => Math.max(...xs), least = (xs: number[]) => Math.min(...xs);
  say(`targets: a/c <= 1.15 (worst ${fmt(worst(ratios.ac))}); b/a >= 2.5 (least ${fmt(least(ratios.ba))}); runtime <= ${RUNTIME_TARGET_BYTES} B (${size} B)`);
  say(`targets on a Pico: module <= 15 M instructions per 4 KiB chunk (${isNaN(perChunk) ? "not measured" : M(perChunk) + " M"}), <= 0.6 M per read exchange (${isNaN(perRead) ? "not measured" : M(perRead, 2) + " M"}); 256 KiB modelled <= 1.25x the wire floor at 100 kHz (${fmt(ratios.pico[100000])}), <= 2x at 400 kHz (${fmt(ratios.pico[400000])})`);
  if (save) {
    const machine = `${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}`;
    writeFileSync(join(ROOT, "bench/results.md"), "# Benchmark results\n\nMachine: " + machine + "\n\n" + lines.join("\n") + "\n");
    console.log("\nwrote bench/results.md");
  }
}

Promise.resolve(main()).catch((e) => { console.error(e); process.exit(1); });
