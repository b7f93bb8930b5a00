// Slot and record layout: where images and the boot record live, checked against the flash
// geometry before anything is erased. A region is raw flash ({addr, length}) or a Storage file
// ({file, length}); the record is raw flash split into two units, or two Storage files.
import { FlashPort } from "../ports";

export interface SlotSpec {
  addr?: number;
  file?: string;
  length: number;
}

export interface RecordSpec {
  addr?: number;
  files?: string[];
  length: number;
}

export interface Layout {
  slots: SlotSpec[];
  record: RecordSpec;
}

/** A raw record unit: [addr, addr + length), whole erase pages. */
export interface RawUnit {
  addr: number;
  length: number;
}

function hex(n: number): string {
  return "0x" + n.toString(16);
}

/** Erase pages covering [addr, addr + length), or a problem text. */
export function pagesOf(flash: FlashPort, addr: number, length: number): number[] | string {
  var pages: number[] = [];
  var at = addr;
  while (at < addr + length) {
    var p = flash.getPage(at);
    if (!p) return hex(at) + " is outside flash";
    if (p.addr !== at) return hex(at) + " is not on an erase-page boundary (page starts at " + hex(p.addr) + ")";
    pages.push(p.addr);
    at = p.addr + p.length;
  }
  if (at !== addr + length) return "region " + hex(addr) + "+" + length + " does not end on an erase-page boundary";
  return pages;
}

/** Splits a raw record area into two units of whole pages, as equal as the pages allow. */
export function recordUnits(flash: FlashPort, spec: RecordSpec): RawUnit[] | string {
  var pages = pagesOf(flash, spec.addr as number, spec.length);
  if (typeof pages === "string") return "record: " + pages;
  if (pages.length < 2) return "record: needs at least two erase pages, has " + pages.length;
  var end = (spec.addr as number) + spec.length;
  var mid = pages[Math.ceil(pages.length / 2)];
  return [{ addr: spec.addr as number, length: mid - (spec.addr as number) }, { addr: mid, length: end - mid }];
}

/** "" when the layout is safe, else what is wrong with it. */
export function checkLayout(layout: Layout, flash: FlashPort, recordSize: number): string {
  if (!layout || !layout.slots || layout.slots.length !== 2 || !layout.record) return "layout needs two slots and a record";
  var raw: { name: string; addr: number; length: number }[] = [];
  var free = flash.getFree();
  for (var i = 0; i < 2; i++) {
    var s = layout.slots[i];
    if (!(s.length > 0)) return "slot " + i + ": length must be positive";
    if (s.file !== undefined) {
      if (!s.file || s.file.length > 28) return "slot " + i + ": Storage file name must be 1..28 characters";
      continue;
    }
    if (typeof s.addr !== "number") return "slot " + i + ": needs addr or file";
    var pages = pagesOf(flash, s.addr, s.length);
    if (typeof pages === "string") return "slot " + i + ": " + pages;
    raw.push({ name: "slot " + i, addr: s.addr, length: s.length });
  }
  var r = layout.record;
  if (r.files) {
    if (r.files.length !== 2 || r.files[0] === r.files[1]) return "record: needs two distinct Storage files";
    if (!(r.length >= 2 * recordSize)) return "record: each file needs room for two records (" + 2 * recordSize + " bytes)";
  } else {
    var units = recordUnits(flash, r);
    if (typeof units === "string") return units;
    if (units[0].length < recordSize || units[1].length < recordSize) return "record: each unit needs at least " + recordSize + " bytes";
    raw.push({ name: "record", addr: r.addr as number, length: r.length });
  }
  if (layout.slots[0].file !== undefined && layout.slots[0].file === layout.slots[1].file) return "slots 0 and 1 use the same Storage file";
  for (var a = 0; a < raw.length; a++) {
    for (var b = a + 1; b < raw.length; b++) {
      if (raw[a].addr < raw[b].addr + raw[b].length && raw[b].addr < raw[a].addr + raw[a].length) {
        return raw[a].name + " overlaps " + raw[b].name;
      }
    }
    var inside = false;
    for (var f = 0; f < free.length; f++) {
      if (raw[a].addr >= free[f].addr && raw[a].addr + raw[a].length <= free[f].addr + free[f].length) inside = true;
    }
    if (!inside) return raw[a].name + " (" + hex(raw[a].addr) + "+" + raw[a].length + ") is not inside a free flash area (Flash.getFree()): it would overwrite firmware or Storage";
  }
  return "";
}
