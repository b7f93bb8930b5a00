// Streams an image into a slot: one page per event-loop turn (its erase, then its write), every
// write read back and compared, and keep the running CRC-32 of the image with
// one native pass per chunk. Data is written from where it lies (the decoded chunk), through views:
// no copy. Slots are raw flash ({a, l}: pages from Flash.getPage as they come) or a Storage file.
// Also scans a slot's CRC-32 (resume check), one piece per turn.
import { rawFlash } from "../build";
import { crcPrefix } from "../dfu/crc32";
import { fault, Fault } from "../errors";
import { Data, Ports } from "../ports";
import { Slot } from "./config";

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
  /** after a resume, a Storage file may hold bytes past the journal (written before the reset, up to resumeEvery and a chunk) until an erased piece */
  _resumed: boolean;
  /** set when a file slot holds other data past the journaled offset: the copy must start again */
  _dirty: boolean;
  /** the write under way: data[_off ..] goes to slot [_at, _at + _n); _piece is the next offset */
  _data: Data;
  _off: number;
  _at: number;
  _n: number;
  _piece: number;
  /** data[_off - 6, _off) is the CRC prefix: the running CRC moves on */
  _pre: boolean;
  /** scanning instead of writing: prefix ‖ piece buffer, and the end */
  _buf: Uint8Array | null;
  _upto: number;
  _tail: Uint8Array;
  _cb: (err: Fault | null, crc?: number) => void;
  /** A write or scan is under way: the owner's timer callback (`tick`) must run writerStep(). */
  _busy: boolean;
  _tick: () => void;
}

export function createWriter(p: Ports, tick: () => void): Writer {
  return { _p: p, _tail: new Uint8Array(4), _buf: null, _busy: false, _tick: tick } as any as Writer;
}

function done(w: Writer, err: Fault | null, crc?: number) {
  w._busy = false;
  w._buf = null;
  w._data = "";
  w._cb(err, crc);
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
 * With `pre`, data is a whole decoded chunk, the CRC prefix of the bytes before (src/dfu/crc32.ts)
 * and then the n bytes (off 6), and the running CRC and the resume point move on. With `upto`
 * instead, cb(err, crc) gets the CRC-32 of slot[0 .. upto), read in pieces of n bytes.
 */
export function write(w: Writer, data: Data, off: number, n: number, pre: boolean, cb: (err: Fault | null, crc?: number) => void, upto?: number) {
  w._data = data;
  w._off = off;
  w._n = n;
  w._pre = pre;
  w._at = w._piece = upto ? 0 : w._pos;
  w._cb = cb;
  w._buf = null;
  w._busy = true;
  if (upto) {
    w._upto = upto;
    w._crc = 0;
    w._buf = new Uint8Array(n + 6);
  }
  writerStep(w);
}

export function readSlot(p: Ports, s: Slot, off: number, n: number): Data {
  return rawFlash() && s.f === undefined ? p.flash.read(n, (s.a as number) + off) : p.storage.read(s.f as string, off, n) || "";
}

/** The start (or, with `end`, the end) of the raw page that holds slot offset `off`, as a slot offset. */
function page(w: Writer, off: number, end?: boolean): number {
  var a = w._slot.a as number, pg = w._p.flash.getPage(a + off) as { addr: number; length: number };
  return pg.addr - a + (end ? pg.length : 0);
}

export function writerStep(w: Writer) {
  var p = w._p, s = w._slot, nat = p.natives, end = w._at + w._n, raw = rawFlash() && s.f === undefined, data = w._data as string, back: Data;
  var from = w._piece, stop: number, pe: number, src: number, n: number, n4: number, have: string, buf = w._buf;
  if (buf) {
    if (w._at >= w._upto) return done(w, null, w._crc);
    n = Math.min(buf.length - 6, w._upto - w._at);
    back = readSlot(p, s, w._at, n);
    if (back.length !== n) return done(w, fault("flash", "slot read failed at " + w._at));
    nat.put(buf, crcPrefix(w._crc), 0);
    nat.put(buf, back, 6);
    w._crc = nat.crc32(buf.subarray(0, n + 6));
    w._at += n;
    return void p.timers.set(w._tick, 0);
  }
  try {
    if (from < end) {
      // Up to one page per turn: whole words, the last one padded with 0xFF; its erase first, in
      // the same turn (erase-ahead: the page it starts in, or the old file before a new one).
      pe = raw ? page(w, from, true) : end;
      stop = pe < end ? pe : end;
      if (raw ? w._erased < stop : !w._erased) {
        if (raw) {
          // Erased up to a page start at or before from (writes are sequential, pages erased
          // ahead), and not past it: that is from's page, which ends at pe.
          p.flash.erasePage((s.a as number) + w._erased);
          w._erased = pe;
        } else {
          p.storage.erase(s.f as string);
          w._erased = w._total;
        }
      }
      src = w._off + from - w._at;
      n = stop - from;
      n4 = n & ~3;
      w._piece = stop;
      if (!raw && w._resumed) {
        // A Storage file cannot be rewritten in place: after a reset, bytes past the journaled
        // offset may already be there. Identical ones are kept; anything else needs a new file.
        have = p.storage.read(s.f as string, from, n) || "";
        if (have === nat.text(nat.view(data, src, n))) return void p.timers.set(w._tick, 0);
        if (/[^\xff]/.test(have)) {
          w._dirty = true;
          return void p.timers.set(w._tick, 0);
        }
        // Erased: nothing was written from here on (writes are sequential).
        w._resumed = false;
      }
      if (n4) program(w, from, nat.view(data, src, n4));
      if (n > n4) {
        w._tail.fill(0xff);
        nat.put(w._tail, nat.view(data, src + n4, n - n4), 0);
        program(w, from + n4, w._tail);
      }
      // The read-back has a turn of its own: in the write's turn it keeps about 90 more JsVars (1 KiB
      // chunks on a Puck-sized interpreter) alive at the peak.
      return void p.timers.set(w._tick, 0);
    }
  } catch (e) {
    return done(w, fault("flash", (e as Error).message || String(e)));
  }
  if (w._dirty) return done(w, fault("flash", "slot holds other data"));
  back = readSlot(p, s, w._at, w._n);
  // By CRC-32, which needs no copy (a string comparison would): the read-back as text, faster than as bytes.
  if (back.length !== w._n || nat.crc32(typeof back === "string" ? back : nat.text(back)) !== nat.crc32(nat.view(data, w._off, w._n))) {
    return done(w, fault("flash", "read-back mismatch at " + w._at));
  }
  w._pos = end;
  if (w._pre) {
    // The whole decoded string is prefix and chunk: its CRC as a string, faster than through a view.
    // Resume points: page starts (raw), every 4 KiB of a Storage file (each journal there is a
    // Storage write, and Storage compacts once they fill it), and the end; the engine journals
    // those at least its resumeEvery apart.
    var crc = nat.crc32(data), boundary = end >= w._total ? end : raw ? page(w, end) : end - end % 4096;
    if (boundary > w._committed) {
      w._committedCrc = boundary === end ? crc : nat.crc32(nat.view(data, w._off - 6, boundary - w._at + 6));
      w._committed = boundary;
    }
    w._crc = crc;
  }
  done(w, null);
}

function program(w: Writer, off: number, data: Uint8Array) {
  var p = w._p, s = w._slot;
  if (rawFlash() && s.f === undefined) p.flash.write(data, (s.a as number) + off);
  else if (!p.storage.write(s.f as string, data, off, (w._total + 3) & ~3)) throw "Storage.write failed";
}
