// The module's RAM on a real interpreter, as a user loads it: the reservation made from the
// install module in RAM, both modules stored in Storage, provisioning in one boot, then a whole
// update of a 12 KB image into a slot of the reservation in 4 KB units (as on a Puck.js) in the next, against the light fake Notecard (test/espruino/light-notecard.js), whose replies the host
// precomputed. Figures are JsVars from process.memory() (which collects garbage first), sampled at
// every bus read, Storage access and CRC-32.
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import CRC32 from "crc-32";
import { runEspruino, stageFile, storeFile, tempDir } from "./espruino";

export interface RamFigures {
  /** JsVars the interpreter has in all. */
  total: number;
  /** require("NotecardDFU") from Storage, then setup(), then the peak of a whole update above the usage just before require. */
  require: number;
  setup: number;
  peak: number;
  /** require("NotecardDFUInstall") and the peak of provisioning above the usage just before it. */
  installRequire: number;
  provisionPeak: number;
  state: string;
  out: string;
}

const LIGHT = readFileSync(join(__dirname, "../espruino/light-notecard.js"), "utf8");

/** An application of about `size` bytes that prints its version. */
function app(version: string, size: number): string {
  const head = `print("RUNNING ${version}");\n`;
  return head + "/*" + "x".repeat(Math.max(0, size - head.length - 4)) + "*/";
}

/** `runtime`: the runtime stored, with the install module of the same build. */
export function measureRam(bin: string, chunk: number, imageBytes = 12 * 1024, runtime = "dist/NotecardDFU.pretok"): RamFigures {
  const dir = tempDir();
  // Slots of whole 4 KB units after the first, which .boot0 fills up to the reservation's header; trailer included.
  const slot = Math.ceil((imageBytes + 256) / 4096) * 4096;
  const layout = `{ slots: [{ addr: 0x10001000, length: ${slot} }, { addr: ${0x10001000 + slot}, length: ${slot} }], reserve: { file: "dfu.area", length: ${2 * slot} } }, storageAddr: 0x10000000`;
  const install = stageFile(dir, runtime.replace("NotecardDFU.pretok", "NotecardDFUInstall.min.js"), "install.js");
  const reserved = runEspruino(bin, dir, `Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("${install}")); require("NotecardDFUInstall").reserve({ layout: ${layout} }); print("FIRST " + require("Storage").list().join());`);
  if (!/FIRST \.boot0,dfu\.area\r?\n/.test(reserved)) return { total: 0, require: NaN, setup: NaN, peak: NaN, installRequire: NaN, provisionPeak: NaN, state: "reserve failed", out: reserved };
  storeFile(bin, dir, runtime, "NotecardDFU");
  storeFile(bin, dir, runtime.replace("NotecardDFU.pretok", "NotecardDFUInstall.pretok"), "NotecardDFUInstall");
  const image = app("2.0.0", imageBytes);
  const bytes = Buffer.from(image, "latin1");
  // The card's replies, one Storage file per chunk, and the factory app as .bootcde.
  const files: string[] = [];
  for (let k = 0; k * chunk < bytes.length; k++) {
    const name = `nc${k}.txt`;
    writeFileSync(join(dir, name), JSON.stringify({ payload: bytes.subarray(k * chunk, (k + 1) * chunk).toString("base64") }));
    files.push(`s.write("nc${k}", fs.readFileSync("${name}"));`);
  }
  writeFileSync(join(dir, "app.txt"), app("1.0.0", 2048));
  runEspruino(bin, dir, `var s = require("Storage"), fs = require("fs"); ${files.join(" ")} s.write(".bootcde", fs.readFileSync("app.txt"));`);

  const num = (out: string, key: string) => {
    const m = new RegExp(key + " (-?\\d+)").exec(out);
    return m ? Number(m[1]) : NaN;
  };
  let out = runEspruino(bin, dir, `
    var peak = 0, m0 = process.memory().usage, timer = setInterval(function () { peak = Math.max(peak, process.memory().usage); }, 1);
    var I = require("NotecardDFUInstall"), m1 = process.memory().usage;
    I.provision({ layout: ${layout}, version: "1.0.0", chunkSize: ${chunk} }, undefined, function (e, i) {
      clearInterval(timer);
      print("PROVISIONED " + (e ? e.code + " " + e.message : i.state));
      print("IREQ " + (m1 - m0) + " IPEAK " + (peak - m0));
    });`, 120e3);
  const installRequire = num(out, "IREQ"), provisionPeak = num(out, "IPEAK");
  const provisioned = out;
  if (!/PROVISIONED confirmed/.test(out)) return { total: 0, require: NaN, setup: NaN, peak: NaN, installRequire, provisionPeak, state: "provision failed", out };
  runEspruino(bin, dir, `require("Storage").erase("NotecardDFUInstall");`);

  out = runEspruino(bin, dir, LIGHT + `
    var card = new LightNotecard(${bytes.length}, ${CRC32.buf(bytes) >>> 0}, ${chunk}, "2.0.0");
    // The application's own: the options it passes (kept by the module only where it must), and
    // Storage and natives that sample the usage too, so the peak also sees a chunk while it is
    // checked and written (the bus reads are sampled by the card).
    var S = require("Storage");
    function sample() { var u = process.memory().usage; if (u > card.peak) card.peak = u; }
    var storage = { read: function (n, o, l) { sample(); return S.read(n, o, l); }, write: function (n, d, o, z) { sample(); return S.write(n, d, o, z); }, erase: function (n) { S.erase(n); }, list: function () { return S.list(); }, getFree: function () { return S.getFree(); }, compact: function () { S.compact(); } };
    var natives = { crc32: function (d) { sample(); return E.CRC32(d); }, atob: atob, btoa: btoa, text: E.toString,
      view: function (s, o, n) { return new Uint8Array(E.toArrayBuffer(s), o, n); }, put: function (d, s, a) { d.set(s, a); } };
    var options = { i2c: card, version: "1.0.0", chunkSize: ${chunk}, transport: { resetSettleMs: 5, drainMs: 20 }, reboot: function () { print("REBOOT"); },
      storage: undefined, natives: undefined };
    var m0 = process.memory().usage;
    var M = require("NotecardDFU"), m1 = process.memory().usage;
    // setup as an application calls it, with Espruino's own Storage and natives...
    var dfu = M.setup(options);
    var m2 = process.memory().usage;
    // ...then the instance that updates, with the sampling ones (the application's, like the options).
    options.storage = storage;
    options.natives = natives;
    dfu = M.setup(options);
    dfu.check(function (err, res) {
      print("CHECK " + res.state + (err ? " " + err.code + " " + err.message : ""));
      print("TOTAL " + process.memory().total + " REQ " + (m1 - m0) + " SETUP " + (m2 - m1) + " PEAK " + (card.peak - m0) + " HUB " + card.hub);
    });`, 300e3);
  const state = (/CHECK (\w+)/.exec(out) || ["", "no result"])[1];
  return { total: num(out, "TOTAL"), require: num(out, "REQ"), setup: num(out, "SETUP"), peak: num(out, "PEAK"), installRequire, provisionPeak, state, out: provisioned + out };
}
