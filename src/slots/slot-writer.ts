// Streams an image into a slot: erase-ahead one page per event-loop turn, write one page-sized
// piece per turn, read every write back and compare CRC-32s, and keep the running CRC-32 of the
// image with one native pass per chunk. The caller fills buf[4 .. 4 + n) with the next chunk; the
// four bytes before it hold the CRC prefix (src/dfu/crc32.ts).
import { crcPrefix } from "../dfu/crc32";
import { Natives, TimerPort } from "../ports";
import { SlotStore } from "./slot-store";
import { describe } from "../notecard/errors";

export interface SlotWriter {
  /** Chunk buffer: bytes [4, 4 + maxChunk) hold data, [0, 4) the CRC prefix, plus 3 bytes of padding room. */
  buf: Uint8Array;
  /** Starts writing `total` bytes into `slot` from `at` (0, or a committed offset with its CRC). */
  begin(slot: SlotStore, total: number, at: number, crc: number): void;
  /** Writes buf[4 .. 4 + n) at the current offset; cb(err) once it is on flash and verified. */
  write(n: number, cb: (err: string | null) => void): void;
  /** Checks that slot[0 .. at) has CRC-32 `crc`, one piece per turn; cb(ok). */
  verify(slot: SlotStore, at: number, crc: number, cb: (ok: boolean) => void): void;
  /** Next offset to write, and the CRC-32 of everything before it. */
  pos(): number;
  crc(): number;
  /** Largest offset whose erase page is completely written (resume point), and the CRC before it. */
  committed(): number;
  committedCrc(): number;
}

/** write() fails with this when a file slot holds other data where the chunk goes. */
export var DIRTY = "slot holds other data past the journaled offset";
var ERASED = /\xff/g;

export function createSlotWriter(natives: Natives, timers: TimerPort, maxChunk: number): SlotWriter {
  var buf = new Uint8Array(maxChunk + 8);
  var slot: SlotStore, total = 0, pos = 0, crc = 0, erasedTo = 0, committed = 0, committedCrc = 0;
  // Only the chunk after a resume can find bytes already written: the journal trails by one chunk.
  var resumed = false;

  // Erase, write and commit offsets each only grow between begin() calls, so each has a page
  // cursor that finds its page in O(1) amortized (no scan of the page list per chunk).
  var cursors = [0, 0, 0];
  var ERASE = 0, WRITE = 1, COMMIT = 2;
  /** Index of the page holding `off`, for the cursor `c` (off >= that cursor's previous call). */
  function pageAt(c: number, off: number): number {
    var pages = slot.pages, i = cursors[c];
    while (i < pages.length - 1 && pages[i].off + pages[i].length <= off) i++;
    cursors[c] = i;
    return i;
  }

  function begin(s: SlotStore, t: number, at: number, c: number) {
    slot = s;
    total = t;
    pos = committed = erasedTo = at;
    crc = committedCrc = c;
    resumed = at > 0;
    cursors = [0, 0, 0];
  }

  function write(n: number, cb: (err: string | null) => void) {
    var start = pos, n4 = (n + 3) & ~3, total4 = (total + 3) & ~3;
    buf.fill(0xff, 4 + n, 4 + n4);
    crcPrefix(crc, buf, 0);
    var piece = start;
    function step() {
      try {
        if (slot.isFile ? erasedTo === 0 && start === 0 : erasedTo < start + n4) {
          // Erase ahead: the next page (or the whole file, before its first write).
          var page = slot.isFile ? 0 : pageAt(ERASE, erasedTo);
          slot.erase(page);
          erasedTo = slot.isFile ? slot.length : slot.pages[page].off + slot.pages[page].length;
          return timers.set(step, 0);
        }
        if (piece < start + n4) {
          var pg = slot.isFile ? null : slot.pages[pageAt(WRITE, piece)];
          var end = pg ? Math.min(start + n4, pg.off + pg.length) : start + n4;
          var data = buf.subarray(4 + piece - start, 4 + end - start);
          if (slot.isFile && resumed) {
            // A Storage file cannot be rewritten in place: after a reset, bytes past the journaled
            // offset may already be there. Identical ones are kept; anything else needs a new file.
            var have = natives.text(slot.read(piece, end - piece));
            if (have === natives.text(data)) { piece = end; return timers.set(step, 0); }
            if (have.replace(ERASED, "").length) return cb(DIRTY);
          }
          slot.write(piece, data, total4);
          piece = end;
          return timers.set(step, 0);
        }
      } catch (e) {
        return cb("flash: " + describe(e));
      }
      var back = slot.read(start, n4);
      if (back.length !== n4 || natives.crc32(back) !== natives.crc32(buf.subarray(4, 4 + n4))) {
        return cb("flash read-back mismatch at offset " + start);
      }
      var newCrc = natives.crc32(buf.subarray(0, 4 + n));
      resumed = false;
      pos = start + n;
      var boundary = pos >= total || slot.isFile ? pos : slot.pages[pageAt(COMMIT, pos)].off;
      if (boundary > committed) {
        committedCrc = boundary === pos ? newCrc : natives.crc32(buf.subarray(0, 4 + boundary - start));
        committed = boundary;
      }
      crc = newCrc;
      cb(null);
    }
    step();
  }

  function verify(s: SlotStore, at: number, expected: number, cb: (ok: boolean) => void) {
    var off = 0, c = 0;
    function step() {
      if (off >= at) return cb(c === expected);
      var n = Math.min(maxChunk, at - off);
      var back = s.read(off, n);
      if (back.length !== n) return cb(false);
      crcPrefix(c, buf, 0);
      buf.set(back, 4);
      c = natives.crc32(buf.subarray(0, 4 + n));
      off += n;
      timers.set(step, 0);
    }
    step();
  }

  return {
    buf: buf, begin: begin, write: write, verify: verify,
    pos: function () { return pos; }, crc: function () { return crc; },
    committed: function () { return committed; }, committedCrc: function () { return committedCrc; }
  };
}
