// The boot state lives in each slot's own trailer, as in MCUboot's direct-XIP mode: no separate
// record area. Erasing a slot for a new image erases only that slot's trailer, so the running
// image's trailer is never touched, and every word of a trailer is written once after its erase.
//
// Trailer (the last `t` bytes of a slot, inside its last erase page), little-endian words:
//   0  length   4  CRC-32   8  sequence   12..31  version text (NUL padded)   32  CRC-32 of 0..31
//   36 + 4k     mark k (MARK): zeroed once what it says is true
//   72 + 8j     resume point j: committed offset, CRC-32 of the bytes before it
// A header whose CRC fails is no header. A mark a power cut left partly zeroed reads as set, and
// each mark is only written when the state it says is already safe (or, a trial boot, before the
// image it counts runs). A torn resume point fails the CRC scan that checks it: the copy starts
// afresh. The selector (src/boot/selector.boot.js) reads the same words with built-ins only.
import { fault, Fault } from "../errors";
import { later, Ports } from "../ports";
import { Config } from "./config";
import { State } from "./states";

/**
 * Mark numbers (word k after the header): verified, trial boots 1..3, then the rest. Progress is
 * no mark: what append() writes for a download, its header or (given an offset) a resume point.
 */
export const enum MARK { Progress = -1, Verified = 0, Confirmed = 4, Rejected = 5, Reported = 6, Abandoned = 7, Tail = 8 }
/** Where the marks and the resume points begin, and the longest version text a trailer keeps. */
export const enum AT { Marks = 36, Resume = 72, TextMax = 20 }

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

/** The boot state the two trailers say, in the state table's terms (src/slots/states.ts). */
export interface BootState {
  /** the newest sequence number */
  q: number;
  s: State;
  /** the confirmed image (the fallback) */
  a: ImageRef;
  /** the candidate: downloading, pending, on trial or rejected */
  c?: ImageRef;
  /** trial boots so far */
  n?: number;
  /** why the candidate was rejected */
  r?: string;
  /** download progress: the last resume point */
  d?: { o: number; k: number };
  /** the download has written into the trailer's page: only a complete copy resumes */
  t?: number;
  /** 0: an outcome to report to the Notecard (a confirm's, a revert's); 1: reported, or none */
  p: number;
}

interface Trailer {
  i: ImageRef;
  q: number;
  /** marks set, bit k for mark k */
  m: number;
  /** resume points written */
  j: number;
  d?: { o: number; k: number };
}

export interface Store {
  _p: Ports;
  _c: Config;
  _latest: BootState | null;
  /** the trailers as last read: per slot, or null */
  _t: (Trailer | null)[];
  /** the write under way: bytes, address, page to erase first (-1: none) */
  _bytes: Uint8Array;
  _at: number;
  _erase: number;
  _cb: (err: Fault | null) => void;
  /** A write is under way: the owner's timer callback (`tick`) must run storeStep(). */
  _busy: boolean;
  _tick: () => void;
}

export function createStore(p: Ports, c: Config, tick: () => void): Store {
  return { _p: p, _c: c, _latest: null, _t: [null, null], _busy: false, _tick: tick } as any as Store;
}

/** Where mark k of slot i's trailer is (k = -9: where the trailer starts). */
export function markAt(c: Config, i: number, k: number): number {
  return c.s[i].a + c.s[i].l - c.t + AT.Marks + 4 * k;
}

function read(st: Store, i: number): Trailer | null {
  // Words as Espruino and Node lay them out (little-endian), copied to be aligned.
  var p = st._p, c = st._c, u = new Uint32Array(c.t / 4), b = new Uint8Array(u.buffer), t: Trailer, k: number;
  p._put(b, p.flash.read(c.t, markAt(c, i, -9)), 0);
  if (u[0] > c.s[i].l - c.t || p._crc32(b.subarray(0, 32)) !== u[8]) return null;
  t = { i: { s: i, l: u[0], c: u[1], v: p._text(b.subarray(12, 32)).replace(/\0+$/, "") }, q: u[2], m: 0, j: 0 };
  // A word is erased when all its bits are set.
  for (k = 0; k <= MARK.Tail; k++) if (~u[AT.Marks / 4 + k]) t.m |= 1 << k;
  for (k = AT.Resume / 4; k + 2 <= u.length && ~u[k]; k += 2) {
    t.j++;
    t.d = { o: u[k], k: u[k + 1] };
  }
  return t;
}

/** Reads both trailers (reads only) and returns the boot state they say, or null (none confirmed). */
export function load(st: Store): BootState | null {
  var t = st._t = [read(st, 0), read(st, 1)], a = -1, i: number, o: Trailer | null, r: BootState, n: number, x = st._c.x;
  for (i = 0; i < 2; i++) if (t[i] && ((t[i] as Trailer).m & 17) === 17 && (a < 0 || (t[i] as Trailer).q > (t[a] as Trailer).q)) a = i;
  st._latest = null;
  if (a < 0) return null;
  o = t[1 - a];
  r = st._latest = { q: (t[a] as Trailer).q, s: "confirmed", a: (t[a] as Trailer).i, p: (t[a] as Trailer).m >> MARK.Reported & 1 };
  if (o && o.q > r.q && !(o.m >> MARK.Abandoned & 1)) {
    r.q = o.q;
    r.c = o.i;
    // Trial boots: the boot marks set, counted up to the first erased one.
    for (n = 0; n < x && (o.m >> (n + 1)) & 1; n++);
    if (!(o.m & 1)) {
      r.s = "progress";
      r.d = o.d;
      r.t = o.m >> MARK.Tail & 1;
      r.p = 1;
    } else if (o.m >> MARK.Rejected & 1) {
      r.s = "reverted";
      r.r = n >= x ? "not confirmed after " + x + " boots" : "CRC mismatch at boot";
      r.p = o.m >> MARK.Reported & 1;
    } else {
      r.s = n ? "trial" : "pending";
      r.n = n;
      r.p = 1;
    }
  }
  return r;
}

/**
 * Writes what an event of the state table (src/slots/states.ts) changes, from the state last
 * loaded: with MARK.Progress a new download's header (provision, or progress without `at`: its
 * trailer's page erased first; `img` and the sequence after the newest) or a resume point (`at`,
 * `crc`); else `mark` (verified, confirm, abandon, reported). cb(err) after the last flash operation.
 */
export function append(st: Store, mark: MARK, img: ImageRef | null, cb: (err: Fault | null) => void, at?: number, crc?: number) {
  // The words to write: a header, a resume point or a mark (zeroed).
  var p = st._p, c = st._c, r = st._latest, u = new Uint32Array(mark >= 0 ? 1 : at ? 2 : AT.Marks / 4), b = new Uint8Array(u.buffer), s: number, tr: Trailer | null;
  st._cb = cb;
  st._erase = -1;
  st._busy = true;
  if (mark < 0 && !at) {
    // A new download (or provisioning): the target's trailer page erased, then its header.
    img = img as ImageRef;
    s = img.s;
    u[0] = img.l;
    u[1] = img.c;
    u[2] = (r ? r.q : 0) + 1;
    // Printable ASCII only, so that the text reads back as it was meant.
    p._put(b, img.v.replace(/[^\x20-\x7e]/g, "?").substr(0, AT.TextMax), 12);
    u[8] = p._crc32(b.subarray(0, 32));
    st._erase = (p.flash.getPage(markAt(c, s, -9)) as { addr: number }).addr;
    st._at = markAt(c, s, -9);
  } else {
    // Only a report may concern the confirmed image: every other write is the candidate's.
    s = mark === MARK.Reported && (r as BootState).s === "confirmed" ? (r as BootState).a.s : ((r as BootState).c as ImageRef).s;
    tr = st._t[s];
    if (mark < 0) {
      // A full table keeps the resume points it has: a reset then costs a little more of the copy.
      if (!tr || AT.Resume + 8 * (tr.j + 1) > c.t) {
        st._busy = false;
        return cb(null);
      }
      u[0] = at as number;
      u[1] = crc as number;
      st._at = markAt(c, s, -9) + AT.Resume + 8 * tr.j;
    } else st._at = markAt(c, s, mark);
  }
  st._bytes = b;
  storeStep(st);
}

/** One flash operation per turn: the erase, then the write; the state is then read again. */
export function storeStep(st: Store) {
  var p = st._p;
  try {
    if (st._erase >= 0) {
      p.flash.erasePage(st._erase);
      st._erase = -1;
      return later(st, 0);
    }
    p.flash.write(st._bytes, st._at);
  } catch (e) {
    st._busy = false;
    return st._cb(fault("flash", "boot state: " + ((e as Error).message || e)));
  }
  st._busy = false;
  load(st);
  st._cb(null);
}
