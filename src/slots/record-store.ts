// The boot record: append-only, fixed-size records, each with its own CRC-32 and a sequence
// number, in two units used alternately (raw flash page ranges, or two Storage files). A unit that
// fills up is compacted by erasing the other unit and writing the new record there, so a power cut
// before, during or after any operation leaves the previous latest record readable.
//
// Record bytes: [CRC-32 of bytes 4.., little endian][JSON length, 2 bytes LE][JSON][0xFF…]. Only the
// words holding data are programmed; the tail stays erased, and no word is programmed twice.
import { describe, fault, Fault } from "../errors";
import { Data, Ports } from "../ports";
import { Config } from "./config";
import { Event, nextState, State } from "./states";

export var RECORD_SIZE = 512;
/** Longest version and reason text kept in a record. */
var TEXT_MAX = 48;
var USED = /[^\xff]/;

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

export interface Records {
  _p: Ports;
  _c: Config;
  /** records per unit */
  _n: number;
  _latest: BootRecord | null;
  _unit: number;
  _free: number[];
  /** the append under way: bytes, unit, record index, next raw address to erase */
  _bytes: Uint8Array;
  _to: number;
  _at: number;
  _erase: number;
  _rec: BootRecord;
  _cb: (err: Fault | null) => void;
  _tick: () => void;
}

export function createRecords(p: Ports, c: Config): Records {
  var rs = { _p: p, _c: c, _n: Math.floor(c.z / RECORD_SIZE), _latest: null, _unit: 0, _free: [0, 0] } as any as Records;
  rs._tick = function () { appendStep(rs); };
  return rs;
}

function readSlot(rs: Records, u: number, i: number): string {
  var p = rs._p, c = rs._c, off = i * RECORD_SIZE;
  if (c.u) return p.natives.text(p.flash.read(RECORD_SIZE, c.u[u] + off));
  var s = p.storage.read((c.r.f as string[])[u], off, RECORD_SIZE);
  return s === undefined ? "" : s;
}

/** Decodes one record slot: the record, "free" (all 0xFF), or null (torn or garbage). */
function decode(rs: Records, s: string): BootRecord | "free" | null {
  if (!USED.test(s)) return "free";
  var len = s.charCodeAt(4) | (s.charCodeAt(5) << 8);
  if (len > RECORD_SIZE - 6) return null;
  var crc = (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
  if (rs._p.natives.crc32(s.substr(4, len + 2)) !== crc) return null;
  try {
    var r = JSON.parse(s.substr(6, len));
    return r && typeof r.q === "number" && typeof r.s === "string" ? r : null;
  } catch (e) {
    return null;
  }
}

/** Scans both units (reads only) and returns the latest valid record, or null. */
export function load(rs: Records): BootRecord | null {
  rs._latest = null;
  for (var u = 0; u < 2; u++) {
    rs._free[u] = rs._n;
    for (var i = 0; i < rs._n; i++) {
      var r = decode(rs, readSlot(rs, u, i));
      if (r === "free") {
        rs._free[u] = i;
        break;
      }
      if (r && (!rs._latest || r.q > rs._latest.q)) {
        rs._latest = r;
        rs._unit = u;
      }
    }
  }
  return rs._latest;
}

function clip(v: ImageRef | undefined) {
  if (v) v.v = String(v.v).substr(0, TEXT_MAX);
}

/** Appends the record for `event` from the latest state; cb(err) after the last flash operation. */
export function append(rs: Records, event: Event, rec: BootRecord, cb: (err: Fault | null) => void) {
  var p = rs._p, from = rs._latest ? rs._latest.s : null, to = nextState(from, event);
  if (!to) return cb(fault("internal", "boot record: no transition from " + (from || "none") + " on " + event));
  rec.s = to;
  rec.q = rs._latest ? rs._latest.q + 1 : 1;
  clip(rec.a);
  clip(rec.b);
  clip(rec.c);
  if (rec.r) rec.r = rec.r.substr(0, TEXT_MAX);
  var json = JSON.stringify(rec), n = json.length;
  if (n > RECORD_SIZE - 6) return cb(fault("internal", "boot record too long"));
  var out = new Uint8Array((n + 9) & ~3);
  out.fill(0xff);
  p.natives.put(out, json, 6);
  out[4] = n & 0xff;
  out[5] = n >> 8;
  var crc = p.natives.crc32(out.subarray(4, 6 + n));
  out[0] = crc & 0xff;
  out[1] = (crc >>> 8) & 0xff;
  out[2] = (crc >>> 16) & 0xff;
  out[3] = crc >>> 24;
  rs._bytes = out;
  rs._rec = rec;
  rs._cb = cb;
  rs._to = rs._unit;
  rs._at = rs._free[rs._unit];
  rs._erase = -1;
  if (!rs._latest || rs._at >= rs._n) {
    // Compaction (or the first record): start the other unit afresh; the old one keeps the latest.
    rs._to = rs._latest ? 1 - rs._unit : 0;
    rs._at = 0;
    rs._erase = rs._c.u ? rs._c.u[rs._to] : 0;
  }
  appendStep(rs);
}

/** One erase page (or the file) per turn, then the record. */
function appendStep(rs: Records) {
  var p = rs._p, c = rs._c, u = rs._to;
  try {
    if (rs._erase >= 0) {
      if (!c.u) {
        p.storage.erase((c.r.f as string[])[u]);
        rs._erase = -1;
      } else {
        var pg = p.flash.getPage(rs._erase) as { addr: number; length: number };
        p.flash.erasePage(pg.addr);
        rs._erase = pg.addr + pg.length < c.u[u] + c.z ? pg.addr + pg.length : -1;
      }
      rs._free[u] = 0;
      return p.timers.set(rs._tick, 0);
    }
    write(rs, u, rs._at * RECORD_SIZE, rs._bytes);
  } catch (e) {
    return rs._cb(fault("flash", "boot record: " + describe(e)));
  }
  rs._latest = rs._rec;
  rs._unit = u;
  rs._free[u] = rs._at + 1;
  rs._cb(null);
}

function write(rs: Records, u: number, off: number, data: Data) {
  var c = rs._c;
  if (c.u) rs._p.flash.write(data, c.u[u] + off);
  else rs._p.storage.write((c.r.f as string[])[u], data, off, c.z);
}
