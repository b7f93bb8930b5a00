// Streams an image into a slot: one erase page per event-loop turn (its erase, then its write),
// every write read back and compared, and keeps the running CRC-32 of the image with one native
// pass per chunk. Data is written from where it lies (the decoded chunk), through views: no copy.
// The slot's last page holds its trailer (src/slots/boot-state.ts), erased before the copy began:
// it is not erased again, and the first write into it sets the trailer's Tail mark, so that a
// reset after it restarts the copy rather than write a word twice.
// Also scans a slot's CRC-32 (resume check), one piece per turn.
import { crcPrefix } from "../dfu/crc32";
import { fault, Fault } from "../errors";
import { Data, later, Ports } from "../ports";
import { MARK, markAt } from "./boot-state";
import { Config } from "./config";

export interface Writer {
  _p: Ports;
  _c: Config;
  /** the slot's index, and its address */
  _s: number;
  _a: number;
  _total: number;
  /** next offset, and the CRC-32 of everything before it */
  _pos: number;
  _crc: number;
  /** bytes erased from the start */
  _erased: number;
  /** the trailer page's start, as a slot offset */
  _tp: number;
  /** largest offset whose erase page is completely written (resume point), and the CRC before it */
  _committed: number;
  _committedCrc: number;
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

export function createWriter(p: Ports, c: Config, tick: () => void): Writer {
  return { _p: p, _c: c, _tail: new Uint8Array(4), _buf: null, _busy: false, _tick: tick } as any as Writer;
}

function done(w: Writer, err: Fault | null, crc?: number) {
  w._busy = false;
  w._buf = null;
  w._data = "";
  w._cb(err, crc);
}

/** Starts writing `total` bytes into slot `s` from `at` (0, or a committed offset with its CRC). */
export function begin(w: Writer, s: number, total: number, at: number, crc: number) {
  var c = w._c;
  w._s = s;
  w._a = c.s[s].a;
  w._tp = page(w, c.s[s].l - c.t);
  w._total = total;
  w._pos = w._committed = w._erased = at;
  w._crc = w._committedCrc = crc;
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

/** The start (or, with `end`, the end) of the page that holds slot offset `off`, as a slot offset. */
function page(w: Writer, off: number, end?: boolean): number {
  var pg = w._p.flash.getPage(w._a + off) as { addr: number; length: number };
  return pg.addr - w._a + (end ? pg.length : 0);
}

export function writerStep(w: Writer) {
  var p = w._p, nat = p, end = w._at + w._n, a = w._a, data = w._data as string, back: Data;
  var from = w._piece, stop: number, pe: number, src: number, n: number, n4: number, buf = w._buf;
  if (buf) {
    if (w._at >= w._upto) return done(w, null, w._crc);
    n = Math.min(buf.length - 6, w._upto - w._at);
    back = p.flash.read(n, a + w._at);
    nat._put(buf, crcPrefix(w._crc), 0);
    nat._put(buf, back, 6);
    w._crc = nat._crc32(buf.subarray(0, n + 6));
    w._at += n;
    return later(w, 0);
  }
  try {
    if (from < end) {
      // Up to one page per turn: whole words, the last one padded with 0xFF; its erase first, in
      // the same turn (erase-ahead: from's page, as writes are sequential).
      pe = page(w, from, true);
      stop = pe < end ? pe : end;
      if (w._erased < stop) {
        if (w._erased < w._tp) p.flash.erasePage(a + w._erased);
        else p.flash.write(new Uint8Array(4), markAt(w._c, w._s, MARK.Tail));
        w._erased = pe;
      }
      src = w._off + from - w._at;
      n = stop - from;
      n4 = n & ~3;
      w._piece = stop;
      if (n4) p.flash.write(nat._view(data, src, n4), a + from);
      if (n > n4) {
        w._tail.fill(0xff);
        nat._put(w._tail, nat._view(data, src + n4, n - n4), 0);
        p.flash.write(w._tail, a + from + n4);
      }
      // The read-back has a turn of its own: in the write's turn it keeps about 90 more JsVars (1 KiB
      // chunks on a Puck-sized interpreter) alive at the peak.
      return later(w, 0);
    }
  } catch (e) {
    return done(w, fault("flash", (e as Error).message || String(e)));
  }
  back = p.flash.read(w._n, a + w._at);
  // By CRC-32, which needs no copy (a string comparison would): the read-back as text, faster than as bytes.
  if (nat._crc32(nat._text(back)) !== nat._crc32(nat._view(data, w._off, w._n))) return done(w, fault("flash", "read-back mismatch at " + w._at));
  w._pos = end;
  if (w._pre) {
    // The whole decoded string is prefix and chunk: its CRC as a string, faster than through a view.
    // Resume points: page starts, and the end; the engine journals those at least its resumeEvery apart.
    var crc = nat._crc32(data), boundary = end >= w._total ? end : page(w, end);
    if (boundary > w._committed) {
      w._committedCrc = boundary === end ? crc : nat._crc32(nat._view(data, w._off - 6, boundary - w._at + 6));
      w._committed = boundary;
    }
    w._crc = crc;
  }
  done(w, null);
}
