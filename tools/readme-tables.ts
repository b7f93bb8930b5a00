// The README's generated tables: supported boards (from boards/*.json) and the boot-record state
// table (from src/slots/states.ts). test/readme.test.ts fails when the README differs; running
// this file prints them to paste.
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { loadInstall, SimBoard } from "../sim/board";
import { GEOMETRIES } from "../sim/geometry";
import { RESUME_EVERY } from "../src/dfu/engine";
import { RECORD_SIZE } from "../src/slots/record-store";
import { transitions } from "../src/slots/states";

const TRANSITIONS = transitions();

/** Bytes a Storage file takes: a 32-byte header and its data padded to 4 (board-facts.md). */
const inStorage = (n: number) => 32 + ((n + 3) & ~3);

/**
 * Record files an update into `slot` may start after its first record, the most the engine's
 * room() reserves then: appends at each resume point (every 4 KiB of a Storage file, each page of
 * raw flash, as large as the slot's first, at least the default RESUME_EVERY apart) and a revert's
 * after the restart (verified, the trial boots, confirm and the report are marks in the record),
 * a new file every (record length / RECORD_SIZE) appends.
 */
function recordFiles(b: any, slot: any): number {
  const page = slot.file !== undefined ? 4096 : GEOMETRIES[b.name].pages.find((pg) => pg.addr <= slot.addr && slot.addr < pg.addr + pg.length)!.length;
  const resumes = RESUME_EVERY < page ? Math.ceil(slot.length / page) : Math.floor(slot.length / RESUME_EVERY);
  return Math.ceil((1 + resumes) / Math.floor(b.layout.record.length / RECORD_SIZE));
}

/**
 * The largest application the profile can update again and again: its smaller slot, where Storage
 * must hold, beside the pretokenised runtime (the build its mode calls for), .boot0 (the layout and
 * the selector, as provisioning writes it on a simulated board), the Storage-file slots, the record file of the update's first record (the module erases the older
 * one, and Storage compacts after that record if it must) and the record files the update starts
 * after it, up to a revert after the restart (so that Storage compacts only before the copy).
 */
export function largestApp(root: string, b: any): { bytes: number; storageLeft: number } {
  const runtime = readFileSync(join(root, (b.mode === "storage" ? "dist/storage/" : "dist/") + "NotecardDFU.pretok")).length;
  const sim = new SimBoard({ board: b.name });
  loadInstall(b.name).installBoot(Object.assign(sim.ports(), { board: b.name }));
  const l = b.layout, record = l.record.files ? inStorage(l.record.length) : 0;
  let used = inStorage(runtime) + inStorage((sim.storage.read(".boot0") as string).length) + (l.reserve ? inStorage(l.reserve.length) : 0);
  for (const s of l.slots) if (s.file !== undefined) used += inStorage(s.length);
  used += record * (1 + Math.max(...l.slots.map((s: any) => recordFiles(b, s))));
  return { bytes: Math.min(...l.slots.map((s: any) => s.length)), storageLeft: GEOMETRIES[b.name].storage.length - used };
}

export function boardsTable(root: string): string {
  const rows = readdirSync(join(root, "boards")).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(join(root, "boards", f), "utf8")));
  const kb = (n: number) => `${Math.round(n / 102.4) / 10} KB`;
  const slot = (s: any) => (s.file !== undefined ? `Storage \`${s.file}\` ${s.length / 1024} KB` : `0x${s.addr.toString(16).toUpperCase()} ${s.length / 1024} KB`);
  const rec = (r: any) => (r.files ? `Storage \`${r.files.join("`, `")}\`, ${r.length / 1024} KB each` : `0x${r.addr.toString(16).toUpperCase()}, ${r.length / 1024} KB`);
  const lines = ["| board | slots | boot record | largest app, sustainable | Storage left | memory-mapped | chunk | mode | I2C |", "|---|---|---|---|---|---|---|---|---|"];
  for (const b of rows) {
    const a = largestApp(root, b);
    lines.push(`| ${b.name} | ${b.layout.slots.map(slot).join(", ")} | ${rec(b.layout.record)} | ${a.bytes / 1024} KB | ${a.storageLeft < 1024 ? a.storageLeft + " bytes" : kb(a.storageLeft)} | ${b.memoryMapped ? "yes" : "no"} | ${b.chunkSize} | ${b.mode} | ${b.i2c.bus}: ${b.i2c.pins} |`);
  }
  return lines.join("\n");
}

export function statesTable(): string {
  const selector = ["boot", "expire", "bad"];
  // Events whose next state is a mark zeroed in the latest record (src/slots/record-store.ts).
  const marks = ["verified", "boot", "confirm", "reported"];
  const lines = ["| from | event | to | written by | as |", "|---|---|---|---|---|"];
  for (const from of Object.keys(TRANSITIONS)) {
    for (const ev of Object.keys(TRANSITIONS[from])) {
      lines.push(`| ${from} | ${ev} | ${TRANSITIONS[from][ev]} | ${selector.indexOf(ev) >= 0 ? "selector (.boot0)" : "module"} | ${marks.indexOf(ev) >= 0 ? "a mark" : "a record"} |`);
    }
  }
  return lines.join("\n");
}

if (require.main === module) {
  console.log(boardsTable(join(__dirname, "..")) + "\n\n" + statesTable());
}
