// Streams an image into a slot: erase-ahead one page per event-loop turn, write up to one page per
// turn, read every write back and compare CRC-32s, and keep the running CRC-32 of the image with
// one native pass per chunk. Data is written from where it lies (the decoded chunk), through views:
// no copy. Slots are raw flash ({a, l}: pages from Flash.getPage as they come) or a Storage file.
import { crcPrefix } from "../dfu/crc32";
import { describe, fault, Fault } from "../errors";
import { Data, Ports } from "../ports";
import { Slot } from "./config";

var USED = /[^\xff]/;

export interface Writer {
  _p: Ports;
  _slot: Slot;
  _total: number;
  /** next offset, and the CRC-32 of everything before it */
  _pos: number;
  _crc: number;
  /** bytes erased from the start (raw), or the file's size once created */
  _erased: number;
  /** largest offset whose erase page is completely written (resume point), and the CRC before it */
  _committed: number;
  _committedCrc: number;
  /** only the chunk after a resume can find bytes already written: the journal trails by a chunk */
  _resumed: boolean;
  /** set when a file slot holds other data past the journaled offset: the copy must start again */
  _dirty: boolean;
  _data: Data;
  _off: number;
  _at: number;
  _n: number;
  _piece: number;
  _pre: boolean;
  /** scanning instead of writing: buffer for prefix ‖ piece, and the end */
  _buf: Uint8Array | null;
  _upto: number;
  _tail: Uint8Array;
  _cb: (err: Fault | null, crc?: number) => void;
  _tick: () => void;
}

export function createWriter(p: Ports): Writer {
  var w = { _p: p, _tail: new Uint8Array(4) } as any as Writer;
  w._tick = function () { w._buf ? scanStep(w) : step(w); };
  return w;
}

/** Starts writing `total` bytes into `slot` from `at` (0, or a committed offset with its CRC). */
export function begin(w: Writer, slot: Slot, total: number, at: number, crc: number) {
  w._slot = slot;
  w._total = total;
  w._pos = w._committed = w._erased = at;
  w._crc = w._committedCrc = crc;
  w._resumed = at > 0;
  w._dirty = false;
}

/**
 * Writes data[off .. off + n) at the current offset; cb(err) once it is on flash and verified.
 * With `pre`, data[off - 6 .. off) is the CRC prefix of the bytes before (src/dfu/crc32.ts), and
 * the running CRC and the resume point move on.
 */
export function write(w: Writer, data: Data, off: number, n: number, pre: boolean, cb: (err: Fault | null) => void) {
  w._data = data;
  w._off = off;
  w._n = n;
  w._pre = pre;
  w._at = w._piece = w._pos;
  w._buf = null;
  w._cb = cb;
  step(w);
}

export function readSlot(p: Ports, s: Slot, off: number, n: number): Data {
  return s.f === undefined ? p.flash.read(n, (s.a as number) + off) : p.storage.read(s.f, off, n) || "";
}

/** Start and end of the raw page that holds slot offset `off`, as slot offsets. */
function page(w: Writer, off: number, end: number): number {
  var a = w._slot.a as number, pg = w._p.flash.getPage(a + off) as { addr: number; length: number };
  return pg.addr - a + (end ? pg.length : 0);
}

function step(w: Writer) {
  var p = w._p, s = w._slot, nat = p.natives, end = w._at + w._n;
  try {
    if (s.f === undefined ? w._erased < end : !w._erased) {
      // Erase ahead: the next page, or the old file before the first write of a new one.
      if (s.f === undefined) {
        p.flash.erasePage((s.a as number) + w._erased);
        w._erased = page(w, w._erased, 1);
      } else {
        p.storage.erase(s.f);
        w._erased = w._total;
      }
      return p.timers.set(w._tick, 0);
    }
    if (w._piece < end) {
      var stop = s.f === undefined ? Math.min(end, page(w, w._piece, 1)) : end;
      put(w, w._piece, stop);
      w._piece = stop;
      return p.timers.set(w._tick, 0);
    }
  } catch (e) {
    return w._cb(fault("flash", describe(e)));
  }
  if (w._dirty) return w._cb(fault("flash", "slot holds other data past the journaled offset"));
  var back = readSlot(p, s, w._at, w._n);
  if (back.length !== w._n || nat.crc32(back) !== nat.crc32(nat.view(w._data as string, w._off, w._n))) {
    return w._cb(fault("flash", "flash read-back mismatch at offset " + w._at));
  }
  w._resumed = false;
  w._pos = end;
  if (w._pre) {
    var crc = nat.crc32(nat.view(w._data as string, w._off - 6, w._n + 6));
    var boundary = end >= w._total || s.f !== undefined ? end : page(w, end, 0);
    if (boundary > w._committed) {
      w._committedCrc = boundary === end ? crc : nat.crc32(nat.view(w._data as string, w._off - 6, boundary - w._at + 6));
      w._committed = boundary;
    }
    w._crc = crc;
  }
  w._cb(null);
}

/** Programs slot bytes [from, to): whole words, the last one padded with 0xFF. */
function put(w: Writer, from: number, to: number) {
  var p = w._p, s = w._slot, nat = p.natives, src = w._off + from - w._at, n = to - from, n4 = n & ~3;
  if (s.f !== undefined && w._resumed) {
    // A Storage file cannot be rewritten in place: after a reset, bytes past the journaled offset
    // may already be there. Identical ones are kept; anything else needs a new file.
    var have = p.storage.read(s.f, from, n) || "";
    if (have === nat.text(nat.view(w._data as string, src, n))) return;
    if (USED.test(have)) {
      w._dirty = true;
      return;
    }
  }
  if (n4) program(w, from, nat.view(w._data as string, src, n4));
  if (n > n4) {
    w._tail.fill(0xff);
    nat.put(w._tail, nat.view(w._data as string, src + n4, n - n4), 0);
    program(w, from + n4, w._tail);
  }
}

function program(w: Writer, off: number, data: Uint8Array) {
  var p = w._p, s = w._slot;
  if (s.f === undefined) p.flash.write(data, (s.a as number) + off);
  else if (!p.storage.write(s.f, data, off, (w._total + 3) & ~3)) throw Error("Storage.write failed");
}

/** CRC-32 of slot[0 .. upto), one piece of `k` bytes per turn; cb(err, crc). */
export function scan(w: Writer, slot: Slot, upto: number, k: number, cb: (err: Fault | null, crc?: number) => void) {
  w._slot = slot;
  w._upto = upto;
  w._at = w._crc = 0;
  w._buf = new Uint8Array(k + 6);
  w._cb = cb;
  scanStep(w);
}

function scanStep(w: Writer) {
  var p = w._p, nat = p.natives, buf = w._buf as Uint8Array;
  if (w._at >= w._upto) {
    w._buf = null;
    return w._cb(null, w._crc);
  }
  var n = Math.min(buf.length - 6, w._upto - w._at), back = readSlot(p, w._slot, w._at, n);
  if (back.length !== n) {
    w._buf = null;
    return w._cb(fault("flash", "slot read failed at " + w._at));
  }
  nat.put(buf, crcPrefix(w._crc), 0);
  nat.put(buf, back, 6);
  w._crc = nat.crc32(buf.subarray(0, n + 6));
  w._at += n;
  p.timers.set(w._tick, 0);
}
