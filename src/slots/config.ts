// The layout as provisioning validated and stored it: the first line of .boot0, a comment that the
// boot selector below it reads too (one copy of it in Storage). The runtime trusts no other: a
// layout given to setup() must equal it, so nothing is ever erased by a layout that was not
// checked against the flash geometry.
import { fault, Fault } from "../errors";
import { StoragePort } from "../ports";

/** A slot or the record, as users write it: raw flash {addr, length} or Storage file(s). */
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
  /** Raw slots and record inside Storage live in this file, Storage's first (see install.ts). */
  reserve?: { file: string; length: number };
}

/** A slot in the stored form: raw address `a` or Storage file `f`, length `l`. */
export interface Slot {
  a?: number;
  f?: string;
  l: number;
}

/** The stored layout: short keys, because the selector and the runtime both read them. */
export interface Config {
  /** board profile name, or "" */
  b: string;
  s: Slot[];
  /** record: raw area or two files, as given */
  r: { a?: number; f?: string[]; l: number };
  /** raw record: the two units' addresses (whole erase pages each) */
  u?: number[];
  /** bytes per record unit */
  z: number;
  /** raw slots are memory-mapped (E.memoryArea); absent without raw slots */
  m?: boolean;
  /** trial boots before a revert */
  x: number;
  /** trial watchdog, seconds (absent: off) */
  w?: number;
  /** default dfu.get chunk, bytes */
  k: number;
}

export var BOOT_FILE = ".boot0";

/** The stored configuration; null when not provisioned; a layout fault when options disagree with it. */
export function readConfig(storage: StoragePort, board?: string, layout?: Layout): Config | null | Fault {
  var text = storage.read(BOOT_FILE), c: Config;
  // "//{...}" then a newline: ours. Anything else (or nothing) is not provisioned.
  if (!text || text.indexOf("//{")) return null;
  try { c = JSON.parse(text.substring(2, text.indexOf("\n"))); } catch (e) { return fault("layout", BOOT_FILE + " damaged"); }
  if (board && board !== c.b) return fault("layout", "provisioned for " + (c.b || "a layout") + ", not " + board);
  if (layout && !sameLayout(layout, c)) return fault("layout", "not the provisioned layout");
  return c;
}

function sameLayout(l: Layout, c: Config): boolean {
  for (var i = 0; i < 2; i++) {
    var s = l.slots && l.slots[i];
    if (!s || s.addr !== c.s[i].a || s.file !== c.s[i].f || s.length !== c.s[i].l) return false;
  }
  return !!l.record && l.record.addr === c.r.a && String(l.record.files) === String(c.r.f) && l.record.length === c.r.l;
}
