// The boot record: append-only, fixed-size records, each with its own CRC-32 and a sequence
// number, in two units used alternately (raw flash page ranges, or two Storage files). A unit that
// fills up is compacted by erasing the other unit and writing the new record there, so a power cut
// before, during or after any operation leaves the previous latest record readable. A Storage unit
// left behind is erased once the other holds the latest record: one record file stays, not two.
//
// Record bytes: [CRC-32 of bytes 4.., LE][JSON length, 2 bytes LE][JSON][0xFF…][marks].
// Only the words holding data are programmed; the tail stays erased, and no word is programmed
// twice. Marks, outside the CRC, are words zeroed in place by the events whose next state they
// say, so that those need no record (on Storage-only boards, no Storage file). The last word: the
// outcome was reported. In a progress record, the x + 2 words before it (x: trial boots allowed):
// verified (pending), one per trial boot (the selector's), confirmed. A word a power cut left
// partly zeroed counts as zeroed: each mark is written once what it says is true, or (a trial
// boot) before the image it counts runs.
import { rawFlash } from "../build";
import { fault, Fault } from "../errors";
import { Ports } from "../ports";
import { Config } from "./config";
import { Event, State, transitions } from "./states";

export var RECORD_SIZE = 256;
/**
 * Longest version text kept in a record: the longest record the module writes (a progress record,
 * test/engine.test.ts) then leaves its marks' words erased. The selector's reasons are shorter.
 */
export var TEXT_MAX = 32;

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
  /** 0: an outcome to report to the Notecard (a confirm's, a revert's); 1: reported, or none */
  p?: number;
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
  /** the latest record's index in its unit (a torn append may follow it) */
  _li: number;
  _free: number[];
  /** the append under way: bytes, unit, record index, offset in it, next raw address to erase (-1: none) */
  _bytes: Uint8Array;
  _to: number;
  _at: number;
  _off: number;
  _erase: number;
  _rec: BootRecord;
  _cb: (err: Fault | null) => void;
  /** An append is under way: the owner's timer callback (`tick`) must run appendStep(). */
  _busy: boolean;
  _tick: () => void;
}

export function createRecords(p: Ports, c: Config, tick: () => void): Records {
  return { _p: p, _c: c, _n: Math.floor(c.z / RECORD_SIZE), _latest: null, _unit: 0, _free: [0, 0], _busy: false, _tick: tick } as any as Records;
}

/** Scans both units (reads only) and returns the latest valid record, or null. */
export function load(rs: Records): BootRecord | null {
  var p = rs._p, c = rs._c, u: number, i: number, s: string | undefined, n: number, r: BootRecord | null;
  rs._latest = null;
  for (u = 0; u < 2; u++) {
    rs._free[u] = rs._n;
    for (i = 0; i < rs._n; i++) {
      s = rawFlash() && c.u ? p.natives.text(p.flash.read(RECORD_SIZE, c.u[u] + i * RECORD_SIZE)) : p.storage.read((c.r.f as string[])[u], i * RECORD_SIZE, RECORD_SIZE);
      // All 0xFF: the first free record slot. Else: [CRC-32][length][JSON], or torn or garbage.
      if (!s || !/[^\xff]/.test(s)) {
        rs._free[u] = i;
        break;
      }
      n = s.charCodeAt(4) | (s.charCodeAt(5) << 8);
      r = null;
      if (n <= RECORD_SIZE - 6 && p.natives.crc32(s.substr(4, n + 2)) === (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0) {
        try { r = JSON.parse(s.substr(6, n)); } catch (e) { /* damaged */ }
      }
      if (r && typeof r.q === "number" && typeof r.s === "string" && (!rs._latest || r.q > rs._latest.q)) {
        // The marks and the state they say, as the selector reads them: n is verified plus the trial
        // boots (the confirmed word ends that count when erased, and overrides it when not).
        for (n = 0; /[^\xff]/.test(s.substr(RECORD_SIZE - 4 * (c.x + 3 - n), 4)); n++);
        if (r.s === "progress" && n) r = /[^\xff]/.test(s.substr(RECORD_SIZE - 8, 4)) ? { q: r.q, s: "confirmed", a: r.c, b: r.a, p: 0 } : { q: r.q, s: n > 1 ? "trial" : "pending", a: r.a, c: r.c, n: n - 1 };
        if (/[^\xff]/.test(s.substr(RECORD_SIZE - 4))) r.p = 1;
        rs._latest = r;
        rs._unit = u;
        rs._li = i;
      }
    }
  }
  return rs._latest;
}

/**
 * Appends the record for `event` from the latest state, or zeroes the latest record's mark for it
 * (reported, verified, confirm: `rec` is then the state it says); cb(err) after the last flash
 * operation.
 */
export function append(rs: Records, event: Event, rec: BootRecord, cb: (err: Fault | null) => void) {
  var p = rs._p, from = rs._latest ? rs._latest.s : "none", to = (transitions()[from] as any)[event], i: number;
  // A mark's word, counted from the record's end.
  var x = rs._c.x, mark = event === "reported" ? 1 : event === "confirm" ? 2 : event === "verified" ? x + 3 : 0;
  if (!to) return cb(fault("internal", "record: " + from + " " + event));
  rs._cb = cb;
  rs._erase = -1;
  rs._busy = true;
  rs._to = rs._unit;
  rec.s = to;
  if (mark) {
    rec.q = (rs._latest as BootRecord).q;
    rs._rec = rec;
    rs._bytes = new Uint8Array(4);
    rs._at = rs._li;
    rs._off = RECORD_SIZE - 4 * mark;
    return appendStep(rs);
  }
  rec.q = rs._latest ? rs._latest.q + 1 : 1;
  for (i = 0; i < 3; i++) {
    var v = [rec.a, rec.b, rec.c][i];
    // Printable, no quote or backslash: in JSON a version takes its own length and no more.
    if (v) v.v = String(v.v).replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?").substr(0, TEXT_MAX);
  }
  var json = JSON.stringify(rec), n = json.length, out = new Uint8Array((n + 9) & ~3), crc: number;
  out.fill(0xff);
  p.natives.put(out, json, 6);
  out[4] = n & 0xff;
  out[5] = n >> 8;
  crc = p.natives.crc32(out.subarray(4, 6 + n));
  out[0] = crc & 0xff;
  out[1] = (crc >>> 8) & 0xff;
  out[2] = (crc >>> 16) & 0xff;
  out[3] = crc >>> 24;
  rs._bytes = out;
  rs._rec = rec;
  rs._at = rs._free[rs._unit];
  rs._off = 0;
  if (!rs._latest || rs._at >= rs._n) {
    // Compaction (or the first record): start the other unit afresh; the old one keeps the latest.
    rs._to = rs._latest ? 1 - rs._unit : 0;
    rs._at = 0;
    rs._erase = rawFlash() && rs._c.u ? rs._c.u[rs._to] : 0;
  }
  appendStep(rs);
}

/** One erase page (or the file) per turn, then the record. */
export function appendStep(rs: Records) {
  var p = rs._p, c = rs._c, u = rs._to, pg: { addr: number; length: number };
  try {
    if (rs._erase >= 0) {
      if (rawFlash() && c.u) {
        pg = p.flash.getPage(rs._erase) as { addr: number; length: number };
        p.flash.erasePage(pg.addr);
        rs._erase = pg.addr + pg.length < c.u[u] + c.z ? pg.addr + pg.length : -1;
      } else {
        p.storage.erase((c.r.f as string[])[u]);
        rs._erase = -1;
      }
      rs._free[u] = 0;
      return void p.timers.set(rs._tick, 0);
    }
    // A record at its place, or a mark in the latest record.
    var at = rs._at * RECORD_SIZE + rs._off;
    if (rawFlash() && c.u) p.flash.write(rs._bytes, c.u[u] + at);
    else {
      if (!p.storage.write((c.r.f as string[])[u], rs._bytes, at, c.z)) throw "Storage.write failed";
      // The first record of a fresh file: the other file is now older than it, and only takes room.
      if (!at) p.storage.erase((c.r.f as string[])[1 - u]);
    }
  } catch (e) {
    rs._busy = false;
    return rs._cb(fault("flash", "record: " + ((e as Error).message || e)));
  }
  rs._latest = rs._rec;
  rs._unit = u;
  if (!rs._off) rs._free[u] = (rs._li = rs._at) + 1;
  rs._busy = false;
  rs._cb(null);
}
