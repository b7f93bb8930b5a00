// The README's generated tables: supported boards (from boards/*.json) and the boot-record state
// table (from src/slots/states.ts). test/readme.test.ts fails when the README differs; running
// this file prints them to paste.
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { transitions } from "../src/slots/states";

const TRANSITIONS = transitions();

export function boardsTable(root: string): string {
  const rows = readdirSync(join(root, "boards")).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(join(root, "boards", f), "utf8")));
  const slot = (s: any) => (s.file !== undefined ? `Storage \`${s.file}\` ${s.length / 1024} KB` : `0x${s.addr.toString(16).toUpperCase()} ${s.length / 1024} KB`);
  const rec = (r: any) => (r.files ? `Storage \`${r.files.join("`, `")}\`, ${r.length / 1024} KB each` : `0x${r.addr.toString(16).toUpperCase()}, ${r.length / 1024} KB`);
  const lines = ["| board | slots | boot record | memory-mapped | chunk | mode | I2C |", "|---|---|---|---|---|---|---|"];
  for (const b of rows) {
    lines.push(`| ${b.name} | ${b.layout.slots.map(slot).join(", ")} | ${rec(b.layout.record)} | ${b.memoryMapped ? "yes" : "no"} | ${b.chunkSize} | ${b.mode} | ${b.i2c.bus}: ${b.i2c.pins} |`);
  }
  return lines.join("\n");
}

export function statesTable(): string {
  const selector = ["boot", "expire", "bad"];
  const lines = ["| from | event | to | written by |", "|---|---|---|---|"];
  for (const from of Object.keys(TRANSITIONS)) {
    for (const ev of Object.keys(TRANSITIONS[from])) {
      lines.push(`| ${from} | ${ev} | ${TRANSITIONS[from][ev]} | ${selector.indexOf(ev) >= 0 ? "selector (.boot0)" : "module"} |`);
    }
  }
  return lines.join("\n");
}

if (require.main === module) {
  console.log(boardsTable(join(__dirname, "..")) + "\n\n" + statesTable());
}
