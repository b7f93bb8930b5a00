// The layout as provisioning validated and stored it: the last line of .boot0, a comment after the
// boot selector, which reads it too (one copy of it in Storage). The runtime takes no other, so
// nothing is ever erased by a layout that was not checked against the flash geometry.
import { fault, Fault } from "../errors";
import { StoragePort } from "../ports";

/** A slot as users write it: whole erase pages of raw flash. */
export interface SlotSpec {
  addr: number;
  length: number;
}

export interface Layout {
  slots: SlotSpec[];
  /** Slots inside Storage live in this file, Storage's second after .boot0 (see install.ts). */
  reserve?: { file: string; length: number };
}

/** A slot in the stored form: address `a`, length `l` (its trailer included), `r`: inside the reservation. */
export interface Slot {
  a: number;
  l: number;
  r?: number;
}

/** The stored layout: short keys, because the selector and the runtime both read them. */
export interface Config {
  /** board profile name, or "" */
  b: string;
  s: Slot[];
  /** trailer bytes at each slot's end (src/slots/boot-state.ts) */
  t: number;
  /** the reservation's file header: its address and the CRC-32 of its 32 bytes as provisioned */
  h?: number[];
  /** slots are memory-mapped (E.memoryArea) */
  m?: boolean;
  /** trial boots before a revert */
  x: number;
  /** trial watchdog, seconds (absent: off) */
  w?: number;
  /** default dfu.get chunk, bytes */
  k: number;
}

export var BOOT_FILE = ".boot0";

/** The stored configuration; null when not provisioned; a layout fault when it is not one this release reads. */
export function readConfig(storage: StoragePort): Config | null | Fault {
  var text = storage.read(BOOT_FILE), i = text ? text.lastIndexOf("\n//{") : -1;
  // "\n//{...}" at the end: ours (before a reservation, erased bytes follow it). A layout as the
  // first line is an earlier release's (0.1 kept a record in Storage files): its own selector still
  // boots the board; this one does not read it. Anything else (or nothing) is not provisioned.
  if (i < 0) return text && !text.indexOf("//{") ? fault("layout", "provisioned by an earlier release: erase Storage, provision again") : null;
  try { return JSON.parse(text!.substring(i + 3, text!.indexOf("}\xff", i) + 1 || text!.length)); } catch (e) { return fault("layout", BOOT_FILE + " damaged"); }
}
