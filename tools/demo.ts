// `notecard-dfu demo`: a whole update on a simulated board, through the real bundle
// (dist/NotecardDFU.js): an Espruino board with its flash, Storage and a Notecard on a 100 kHz I2C
// bus, on a virtual clock. It prints every step; --faults adds bus faults and a power cut mid-copy,
// --bad-image a v3 that never confirms, --json a machine-readable summary.
import { readFileSync, existsSync } from "fs";
import { resolve } from "path";
import { appImage, loadBundle, loadInstall, packageRoot, SimBoard } from "../sim/board";
import { PowerCut } from "../sim/power";
import { pack } from "./pack";

export interface DemoOptions {
  board: string;
  size?: number;
  bitrate: number;
  chunk?: number;
  faults: boolean;
  badImage: boolean;
  json: boolean;
}

export interface DemoSummary {
  board: string;
  ok: boolean;
  expected: string;
  running: string | null;
  state: string;
  imageBytes: number;
  copySeconds: number;
  bytesPerSecond: number;
  resumedAt: number | null;
  powerCuts: number;
  faultsInjected: { [k: string]: number };
  boots: number;
  notehub: { [k: string]: unknown }[];
}

function boardProfile(name: string): any {
  const file = resolve(packageRoot(), "boards", name + ".json");
  if (!existsSync(file)) throw new Error(`unknown board ${name} (see boards/)`);
  return JSON.parse(readFileSync(file, "utf8"));
}

export async function runDemo(o: DemoOptions, print: (line: string) => void, bar: (line: string, pct: number) => void): Promise<DemoSummary> {
  const NotecardDFU = loadBundle();
  const Install = loadInstall();
  const profile = boardProfile(o.board);
  const slotLength = Math.min(...profile.layout.slots.map((s: any) => s.length));
  const size = o.size ?? Math.min(48 * 1024, Math.floor(slotLength * 0.75));
  const board = new SimBoard({ board: o.board, notecard: { bitrate: o.bitrate, needsDfuMode: true, dfuEntryMs: 8000, latencyMs: 20, seed: 2026 } });
  const clock = board.clock;
  const t = () => `[${(clock.now / 1000).toFixed(1).padStart(7)} s]`;
  const say = (s: string) => print(`${t()} ${s}`);
  const summary: DemoSummary = {
    board: o.board, ok: false, expected: o.badImage ? "v3 rejected, v2 running" : "v2 installed and confirmed",
    running: null, state: "", imageBytes: 0, copySeconds: 0, bytesPerSecond: 0, resumedAt: null, powerCuts: 0,
    faultsInjected: {}, boots: 0, notehub: []
  };

  let cutPending = o.faults, cutAt = -1;
  let copyStarted = 0;
  const setup = (version: string) => NotecardDFU.setup(Object.assign(board.ports(), {
    // A resume point every 4 KiB (the default is 16 KiB): the demo's short image then has some.
    version, chunkSize: o.chunk, resumeEvery: 4096,
    onEvent: (e: string) => say(e),
    onProgress: (p: any) => {
      if (!copyStarted) copyStarted = clock.now;
      const pct = Math.floor((p.offset * 100) / p.total);
      const eta = p.bytesPerSecond ? (p.total - p.offset) / p.bytesPerSecond : 0;
      const width = 30, filled = Math.round((pct * width) / 100);
      bar(`${t()} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(pct).padStart(3)} % ${p.offset}/${p.total} B ${p.bytesPerSecond} B/s ETA ${eta.toFixed(0)} s`, pct);
      if (cutPending && p.offset >= p.total / 2) {
        cutPending = false;
        cutAt = p.offset;
        board.rail.down = true; // the board loses power mid-copy
      }
    }
  }));
  const settle = (start: (cb: (...a: any[]) => void) => void): any[] | null => {
    let out: any[] | null = null;
    start((...a: any[]) => { out = a; });
    clock.runUntil(() => out !== null || board.rail.down, 6 * 3600e3);
    if (board.rail.down) return null;
    clock.runUntil(() => clock.pending() === 0 || board.rail.down, 60e3);
    return out;
  };
  const boot = () => {
    summary.boots++;
    const b = board.boot();
    say(`boot #${summary.boots}: ${b.ran ? "image " + b.ran + " started" : "nothing started"}${b.threw ? " and threw at start" : ""}`);
    for (const p of b.printed) say(`  console: ${p}`);
    return b;
  };
  const stage = async (version: string, bad: boolean) => {
    const app = appImage(version, { size: Math.max(0, size - 200), throws: bad });
    const packed = await pack(app, { version, org: "NotecardDFU demo", product: "demo app", built: "2026-11-25T00:00:00Z" });
    board.card.stage({ data: new Uint8Array(Buffer.from(packed.image, "latin1")), version: JSON.stringify(packed.info) });
    summary.imageBytes = packed.length;
    say(`Notehub: ${version}${bad ? " (never confirms)" : ""} deployed, ${packed.length} bytes, CRC-32 ${packed.crc32}, MD5 ${packed.md5}; the Notecard has downloaded it`);
  };

  // The protocol steps as the Notecard sees them; chunk reads are shown by the progress bar.
  board.card.onRequest = (req, rsp) => {
    if (req.req === "dfu.get" && req.length > 0 && !rsp.err) return;
    const shown = JSON.stringify(rsp.body ? Object.assign({}, rsp, { body: { length: rsp.body.length, crc32: rsp.body.crc32, version: "…" } }) : rsp);
    say(`  Notecard <- ${JSON.stringify(req)}  -> ${shown.length > 140 ? shown.slice(0, 137) + "..." : shown}`);
  };
  say(`board ${o.board} (${profile.description}); slots ${profile.layout.slots.map((s: any) => s.file ? "Storage " + s.file : "0x" + s.addr.toString(16)).join(", ")}; I2C ${o.bitrate / 1000} kHz`);
  board.saveApp(appImage("1.0.0"));
  say("factory application 1.0.0 saved in .bootcde from the IDE");
  boot();
  // Provisioning runs once, from the install module (erased from Storage afterwards on a board).
  const prov = settle((cb) => Install.provision(Object.assign(board.ports(), { board: o.board, version: "1.0.0", chunkSize: o.chunk }), undefined, cb));
  say(`provisioned: ${JSON.stringify(prov && prov[1])}`);
  boot();

  if (o.faults) {
    board.card.faults = { nack: 0.01, corrupt: 0.005, truncate: 0.005, count: 0.005, io: 0.03, malformed: 0.03, latency: 0.03, dfuDrop: 0.03 };
    say("faults on: NACKs, bit flips, truncated reads, COUNT mismatches, {io} replies, malformed JSON, latency spikes, DFU mode drops, and a power cut mid-copy");
  }
  await stage("2.0.0", false);

  let running = "1.0.0";
  let goal = false;
  for (let cycle = 0; cycle < 12 && !goal; cycle++) {
    const dfu = setup(running);
    if (running === "2.0.0" && dfu.info().state === "trial") {
      say("the new image runs its self-test and confirms itself");
      settle((cb) => dfu.confirm(cb));
    }
    say(`update check (running ${running})`);
    const r = settle((cb) => dfu.check(cb));
    if (!r) {
      summary.powerCuts++;
      say("POWER CUT: the board resets; RAM is gone, flash keeps what was written");
    } else {
      const [err, res] = r;
      say(`check result: ${res.state}${err ? " (" + err.message + ")" : ""}${res.resumedAt ? ", resumed at offset " + res.resumedAt : ""}`);
      if (res.resumedAt) summary.resumedAt = res.resumedAt;
      if (res.state === "updated" && copyStarted) {
        summary.copySeconds = (clock.now - copyStarted) / 1000;
        summary.bytesPerSecond = Math.round(summary.imageBytes / summary.copySeconds);
        copyStarted = 0;
      }
      const reported = (re: RegExp) => board.card.reports.some((x) => re.test(String(x.req.status || "") + "|" + String(x.req.err || "")));
      if (o.badImage && running === "2.0.0" && reported(/installed 2\.0\.0/) && !reported(/installing 3\.0\.0/) && !board.card.image) {
        await stage("3.0.0", true);
      }
      goal = o.badImage ? running === "2.0.0" && reported(/rejected 3\.0\.0/) : running === "2.0.0" && reported(/installed 2\.0\.0/);
      summary.state = res.state;
    }
    if (goal) break;
    for (;;) {
      const b = boot();
      running = b.ran ?? running;
      if (!b.rebootRequested) break;
      say("the image failed to start: the selector restarts the board");
    }
  }
  summary.running = running;
  summary.faultsInjected = board.card.injected as { [k: string]: number };
  summary.notehub = board.card.reports.map((x) => x.req);
  const info = setup(running).info();
  // A copy that has reached slot 1's last erase page, which holds its trailer, resumes only once
  // complete (the resume point at that page's start is journaled after the progress report the
  // cut comes from): cut there (always, on a slot of one page such as the Pico's 16 KB sector, and
  // on two-page slots such as the Puck.js's), it starts again.
  const slot1 = profile.layout.slots[1], tail = board.flash.getPage(slot1.addr + slot1.length - 1)!.addr - slot1.addr, again = cutAt >= tail;
  if (o.faults && again) say(`the power cut came at offset ${cutAt}, the copy at or past slot 1's last erase page (from ${tail}), which holds its trailer: it started again`);
  summary.ok = goal && (!o.faults || (summary.powerCuts === 1 && (summary.resumedAt !== null || again))) && board.card.hubMode !== "dfu";
  say(`running ${running}; boot state: ${JSON.stringify(info)}; Notecard sync mode: ${board.card.hubMode}`);
  say("what Notehub recorded (dfu.status from the host):");
  for (const r of summary.notehub) say("  " + JSON.stringify(r));
  say(summary.ok ? `OK: ${summary.expected}` : `FAILED: expected ${summary.expected}`);
  return summary;
}
