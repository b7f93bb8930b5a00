#!/usr/bin/env node
// notecard-dfu: host tools for NotecardDFU.
//   pack <app.js> --version X [--org O --product P --description D --builder B] [--minify] [-o out]
//   demo [--board PICO] [--size N] [--bitrate 100000] [--chunk N] [--faults] [--bad-image] [--json]
//   provision-script --board B --version X   (the one-shot code that provisions a board)
import { existsSync, readFileSync, writeFileSync } from "fs";
import { resolve } from "path";
import { packageRoot } from "../sim/board";
import { runDemo } from "./demo";
import { pack, PackError } from "./pack";

function args(argv: string[]): { _: string[]; [k: string]: string | boolean | string[] } {
  const out: { _: string[]; [k: string]: string | boolean | string[] } = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const key = a.slice(2);
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("-")) { out[key] = next; i++; } else out[key] = true;
    } else if (a === "-o") {
      out.o = argv[++i];
    } else out._.push(a);
  }
  return out;
}

const USAGE = `usage:
  notecard-dfu pack <app.js> --version X [--org O] [--product P] [--description D] [--builder B] [--minify] [-o out.js]
  notecard-dfu demo [--board PICO] [--size BYTES] [--bitrate 100000] [--chunk BYTES] [--faults] [--bad-image] [--json]
  notecard-dfu provision-script --board NAME --version X`;

async function main(argv: string[]): Promise<number> {
  const a = args(argv);
  const cmd = a._[0];
  if (cmd === "pack") {
    const file = a._[1];
    if (!file) { console.error(USAGE); return 2; }
    try {
      const p = await pack(readFileSync(file, "latin1"), {
        version: String(a.version ?? ""), org: a.org as string, product: a.product as string,
        description: a.description as string, builder: a.builder as string, minify: !!a.minify
      });
      const out = (a.o as string) || file.replace(/\.js$/, "") + ".notehub.js";
      writeFileSync(out, p.image, "latin1");
      console.log(`wrote ${out}\nlength ${p.length} bytes\ncrc32  ${p.crc32}\nmd5    ${p.md5}\nfirmware::info ${JSON.stringify(p.info)}`);
      return 0;
    } catch (e) {
      console.error(e instanceof PackError ? e.message : String(e));
      return 1;
    }
  }
  if (cmd === "demo") {
    // On a terminal the progress bar redraws one line; otherwise it is a plain line every 10 %.
    const tty = !a.json && !!process.stdout.isTTY;
    let barShown = false, lastTenth = -1;
    const print = (s: string) => {
      if (a.json) return;
      if (barShown) process.stdout.write("\n");
      barShown = false;
      console.log(s);
    };
    const bar = (s: string, pct: number) => {
      if (a.json) return;
      if (tty) { process.stdout.write("\r" + s); barShown = true; return; }
      if (Math.floor(pct / 10) !== lastTenth) { lastTenth = Math.floor(pct / 10); console.log(s); }
    };
    const summary = await runDemo({
      board: String(a.board ?? "PICO"), size: a.size ? Number(a.size) : undefined, bitrate: Number(a.bitrate ?? 100000),
      chunk: a.chunk ? Number(a.chunk) : undefined, faults: !!a.faults, badImage: !!a["bad-image"], json: !!a.json
    }, print, bar);
    if (a.json) console.log(JSON.stringify(summary, null, 2));
    return summary.ok ? 0 : 1;
  }
  if (cmd === "provision-script") {
    if (!a.board || !a.version) { console.error(USAGE); return 2; }
    const file = resolve(packageRoot(), "boards", a.board + ".json");
    if (!existsSync(file)) { console.error(`unknown board ${a.board} (see boards/)`); return 2; }
    const profile = JSON.parse(readFileSync(file, "utf8"));
    const board = JSON.stringify(a.board), version = JSON.stringify(a.version);
    // The order: erase, reserve (.boot0 and a reservation must be Storage's first two files), save the app,
    // provision, then store the runtime (Storage holds the app and the runtime together only
    // once provisioning has moved the app into its slot).
    let n = 1;
    if (profile.layout.reserve) {
      console.log(`// Step ${n++}, once, from the Web IDE or the espruino CLI (they send the required module from
// modules/): erase Storage (every saved file goes), then reserve the slots' pages: .boot0 (the selector)
// and the reservation become Storage's first two files.
require("Storage").eraseAll();
require("NotecardDFUInstall").reserve({ board: ${board} });`);
    }
    console.log(`// Step ${n++}: save your app to flash (it becomes .bootcde).
// Step ${n++}: send this. It checks the layout, copies .bootcde into slot 0 and marks it confirmed,
// installs the boot selector with the layout as .boot0 and removes .bootcde.
require("NotecardDFUInstall").provision({ board: ${board}, version: ${version} }, undefined, function (err, info) {
  if (err) return print("provision failed: " + err.code + " " + err.message);
  print("provisioned: " + JSON.stringify(info));
});
// Step ${n++}: store the runtime as the Storage file "NotecardDFU" (dist/NotecardDFU.pretok).`);
    return 0;
  }
  console.error(USAGE);
  return cmd ? 2 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
