// The README's generated tables: supported boards (from boards/*.json) and the boot-state table
// (from src/slots/states.ts). test/readme.test.ts fails when the README differs; running
// this file prints them to paste.
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { loadInstall, SimBoard } from "../sim/board";
import { GEOMETRIES } from "../sim/geometry";
import { Config, readConfig } from "../src/slots/config";
import { transitions } from "../src/slots/states";

const TRANSITIONS = transitions();

/** Bytes a Storage file takes: a 32-byte header and its data padded to 4 (board-facts.md). */
const inStorage = (n: number) => 32 + ((n + 3) & ~3);

/**
 * The largest application the profile can update again and again: its smaller slot less the
 * trailer (as provisioning sizes it on a simulated board); and the Storage left for the
 * application's own files beside the reservation, .boot0 (the layout and the selector) and the
 * pretokenised runtime.
 */
export function largestApp(root: string, b: any): { bytes: number; storageLeft: number } {
  const runtime = readFileSync(join(root, "dist/NotecardDFU.pretok")).length;
  const sim = new SimBoard({ board: b.name });
  loadInstall().installBoot(Object.assign(sim.ports(), { board: b.name }));
  const cfg = readConfig(sim.storage) as Config, l = b.layout;
  // .boot0 and the reservation as they lie in Storage: before a reservation .boot0 fills the pages up to its header.
  const used = inStorage(runtime) + inStorage((sim.storage.read(".boot0") as string).length) + (l.reserve ? inStorage(l.reserve.length) : 0);
  return { bytes: Math.min(...l.slots.map((s: any) => s.length)) - cfg.t, storageLeft: GEOMETRIES[b.name].storage.length - used };
}

export function boardsTable(root: string): string {
  const rows = readdirSync(join(root, "boards")).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(join(root, "boards", f), "utf8")));
  const kb = (n: number) => `${Math.round(n / 102.4) / 10} KB`;
  const slot = (s: any) => `0x${s.addr.toString(16).toUpperCase()} ${s.length / 1024} KB`;
  const lines = ["| board | slots | largest app | Storage left | in a reservation | memory-mapped | chunk | I2C |", "|---|---|---|---|---|---|---|---|"];
  for (const b of rows) {
    const a = largestApp(root, b);
    lines.push(`| ${b.name} | ${b.layout.slots.map(slot).join(", ")} | ${a.bytes.toLocaleString("en-US")} bytes | ${a.storageLeft >= 0 ? kb(a.storageLeft) : `${kb(-a.storageLeft)} short: the runtime does not fit`} | ${b.layout.reserve ? "yes" : "no"} | ${b.memoryMapped ? "yes" : "no"} | ${b.chunkSize} | ${b.i2c.bus}: ${b.i2c.pins} |`);
  }
  return lines.join("\n");
}

export function statesTable(): string {
  const selector = ["boot", "expire", "bad"];
  const as: { [event: string]: string } = { provision: "a header and three marks", progress: "a header, then resume points" };
  const lines = ["| from | event | to | written by | as |", "|---|---|---|---|---|"];
  for (const from of Object.keys(TRANSITIONS)) {
    for (const ev of Object.keys(TRANSITIONS[from])) {
      lines.push(`| ${from} | ${ev} | ${TRANSITIONS[from][ev]} | ${selector.indexOf(ev) >= 0 ? "selector (.boot0)" : "module"} | ${as[ev] || "a mark"} |`);
    }
  }
  return lines.join("\n");
}

if (require.main === module) {
  console.log(boardsTable(join(__dirname, "..")) + "\n\n" + statesTable());
}
