// The boot record: append-only, fixed-size records, each with its own CRC-32 and a sequence
// number, in two units used alternately (raw flash page ranges, or two Storage files). A unit that
// fills up is compacted by erasing the other unit and writing the new record there, so a power cut
// before, during or after any operation leaves the previous latest record readable.
//
// Record bytes: [CRC-32 of bytes 4.., little endian][JSON length, 2 bytes LE][JSON][0xFF…]. Only the
// words holding data are programmed; the tail stays erased, and no word is programmed twice.
import { FlashPort, Natives, StoragePort, TimerPort } from "../ports";
import { RawUnit, RecordSpec } from "./layout";
import { Event, nextState, State } from "./states";
import { describe } from "../notecard/errors";

export var RECORD_SIZE = 512;
/** Longest version and reason text kept in a record. */
var TEXT_MAX = 48;

export interface ImageRef {
  /** slot index */
  s: number;
  /** length, bytes */
  l: number;
  /** CRC-32 */
  c: number;
  /** version */
  v: string;
}

export interface BootRecord {
  /** sequence number */
  q: number;
  s: State;
  /** the confirmed image (the fallback), if any */
  a?: ImageRef;
  /** the image before `a`, still intact in the other slot: the selector's last resort */
  b?: ImageRef;
  /** the candidate: downloading, pending, on trial or rejected */
  c?: ImageRef;
  /** trial boots so far */
  n?: number;
  /** why the candidate was reverted */
  r?: string;
  /** download progress: committed offset and CRC-32 of the bytes before it */
  d?: { o: number; k: number };
  /** 1 once the outcome was reported to the Notecard */
  p?: number;
  /** 1 when this download put the Notecard in DFU mode, so a later cycle takes it out again */
  m?: number;
  /** whole-image CRC mismatches of this download so far */
  x?: number;
}

/** Unit access for raw flash or Storage files. */
interface Units {
  size: number;
  read(u: number, off: number): Uint8Array | null;
  write(u: number, off: number, data: Uint8Array): void;
  /** Erase steps for unit u (pages, or 1 for a file), each one event-loop turn. */
  steps(u: number): number;
  erase(u: number, step: number): void;
}

function rawUnits(flash: FlashPort, units: RawUnit[], pages: number[][]): Units {
  return {
    size: units[0].length < units[1].length ? units[0].length : units[1].length,
    read: function (u, off) { return flash.read(RECORD_SIZE, units[u].addr + off); },
    write: function (u, off, data) { flash.write(data, units[u].addr + off); },
    steps: function (u) { return pages[u].length; },
    erase: function (u, i) { flash.erasePage(pages[u][i]); }
  };
}

function fileUnits(storage: StoragePort, natives: Natives, spec: RecordSpec): Units {
  var files = spec.files as string[];
  return {
    size: spec.length,
    read: function (u, off) {
      var s = storage.read(files[u], off, RECORD_SIZE);
      return s === undefined ? null : natives.bytes(s);
    },
    write: function (u, off, data) { storage.write(files[u], data, off, spec.length); },
    steps: function () { return 1; },
    erase: function (u) { storage.erase(files[u]); }
  };
}

export interface RecordStore {
  /** Scans both units (reads only) and returns the latest valid record, or null. */
  load(): BootRecord | null;
  latest(): BootRecord | null;
  /** Appends the record for `event` from the latest state; cb(err) after the last flash operation. */
  append(event: Event, fields: BootRecord, cb: (err: string | null, rec?: BootRecord) => void): void;
  /** Records per unit. */
  perUnit: number;
}

export interface RecordDeps {
  flash: FlashPort;
  storage: StoragePort;
  timers: TimerPort;
  natives: Natives;
}

function truncate(s: string | undefined): string | undefined {
  return s === undefined ? undefined : String(s).substr(0, TEXT_MAX);
}

/** Encodes a record: header, JSON, and no padding beyond the last word. */
function encodeRecord(rec: BootRecord, natives: Natives): Uint8Array {
  if (rec.a) rec.a.v = truncate(rec.a.v) as string;
  if (rec.b) rec.b.v = truncate(rec.b.v) as string;
  if (rec.c) rec.c.v = truncate(rec.c.v) as string;
  rec.r = truncate(rec.r);
  var json = natives.bytes(JSON.stringify(rec));
  if (json.length > RECORD_SIZE - 6) throw new Error("NotecardDFU: boot record too long");
  var out = new Uint8Array((json.length + 6 + 3) & ~3);
  out.fill(0xff);
  out.set(json, 6);
  out[4] = json.length & 0xff;
  out[5] = json.length >> 8;
  var crc = natives.crc32(out.subarray(4, 6 + json.length));
  out[0] = crc & 0xff;
  out[1] = (crc >>> 8) & 0xff;
  out[2] = (crc >>> 16) & 0xff;
  out[3] = crc >>> 24;
  return out;
}

/** Decodes one record slot: the record, "free" (all 0xFF), or null (torn or garbage). */
function decodeRecord(b: Uint8Array, natives: Natives, erased: string): BootRecord | "free" | null {
  if (natives.text(b) === erased) return "free";
  var len = b[4] | (b[5] << 8);
  if (len > RECORD_SIZE - 6) return null;
  var crc = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  if (natives.crc32(b.subarray(4, 6 + len)) !== crc) return null;
  try {
    var r = JSON.parse(natives.text(b.subarray(6, 6 + len)));
    return r && typeof r.q === "number" && typeof r.s === "string" ? r : null;
  } catch (e) {
    return null;
  }
}

export function createRecordStore(deps: RecordDeps, spec: RecordSpec, rawUnitList: RawUnit[] | null, rawPages: number[][] | null): RecordStore {
  var units = spec.files ? fileUnits(deps.storage, deps.natives, spec) : rawUnits(deps.flash, rawUnitList as RawUnit[], rawPages as number[][]);
  var perUnit = Math.floor(units.size / RECORD_SIZE);
  var erased: string | null = null;
  var latest: BootRecord | null = null;
  var latestUnit = 0;
  var nextFree = [0, 0];

  function erasedText(): string {
    if (erased === null) erased = deps.natives.text(new Uint8Array(RECORD_SIZE).fill(0xff));
    return erased;
  }

  function load(): BootRecord | null {
    latest = null;
    for (var u = 0; u < 2; u++) {
      nextFree[u] = perUnit;
      for (var i = 0; i < perUnit; i++) {
        var b = units.read(u, i * RECORD_SIZE);
        var r = b ? decodeRecord(b, deps.natives, erasedText()) : "free";
        if (r === "free") { nextFree[u] = i; break; }
        if (r && (!latest || r.q > latest.q)) { latest = r; latestUnit = u; }
      }
    }
    return latest;
  }

  function append(event: Event, fields: BootRecord, cb: (err: string | null, rec?: BootRecord) => void) {
    var from = latest ? latest.s : null;
    var to = nextState(from, event);
    if (!to) return cb("boot record: no transition from " + (from || "none") + " on " + event);
    var rec = fields;
    rec.s = to;
    rec.q = latest ? latest.q + 1 : 1;
    var bytes: Uint8Array;
    try { bytes = encodeRecord(rec, deps.natives); } catch (e) { return cb(describe(e)); }
    var u = latestUnit, slot = nextFree[u];
    var step = 0;
    function write() {
      try { units.write(u, slot * RECORD_SIZE, bytes); } catch (e) { return cb("boot record write failed: " + describe(e)); }
      latest = rec;
      latestUnit = u;
      nextFree[u] = slot + 1;
      cb(null, rec);
    }
    function eraseStep() {
      try { units.erase(u, step); } catch (e) { return cb("boot record erase failed: " + describe(e)); }
      if (++step < units.steps(u)) return deps.timers.set(eraseStep, 0);
      nextFree[u] = 0;
      deps.timers.set(write, 0);
    }
    if (!latest || slot >= perUnit) {
      // Compaction (or the first record): start the other unit afresh; the old one keeps the latest.
      u = latest ? 1 - latestUnit : 0;
      slot = 0;
      return eraseStep();
    }
    write();
  }

  return { load: load, latest: function () { return latest; }, append: append, perUnit: perUnit };
}
