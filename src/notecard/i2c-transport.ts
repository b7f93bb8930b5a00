// Serial-over-I2C framing (notecard-protocol.md §2): data writes of <= MTU bytes behind a length
// byte, read setup [0x00, N] then read [AVAIL, COUNT, data...], polling until a "\n" has arrived
// and AVAIL is 0; and the resync (a "\n", then drain until only CR/LF comes back, §2.7).
// One state machine and one timer callback per instance: one bus exchange per event-loop turn, or
// up to turnBytes of a reply read back to back, into one preallocated buffer with native copies;
// nothing allocated per exchange but what I2C.readFrom returns. Few functions: each costs RAM.
import { fault, Fault } from "../errors";
import { later, Ports } from "../ports";

export interface TransportOptions {
  /** Notecard I2C address. */
  address: number;
  /** Payload bytes per I2C transaction, 1..253. */
  mtu: number;
  /** Pause after each write transaction, ms (the card needs >= 1 ms between transactions). */
  gapMs: number;
  /** Extra pause after each write chunk, ms (note-c: 20). */
  chunkDelayMs: number;
  /** After this many request bytes, pause segmentPauseMs so the card's 1500-byte buffer drains. */
  segmentBytes: number;
  segmentPauseMs: number;
  /** Pause between the read setup and the read, ms; 0 reads in the same turn. */
  readDelayMs: number;
  /** Interval between data queries while the card has nothing to say, ms. */
  pollMs: number;
  /** Pause between reads while AVAIL > 0, ms. */
  readGapMs: number;
  /** With readGapMs and readDelayMs 0: reply bytes read back to back in one event-loop turn. */
  turnBytes: number;
  /** Give up when no response byte arrived within this time, ms. */
  responseTimeoutMs: number;
  /** Give up when a started response goes silent this long, ms. */
  gapTimeoutMs: number;
  /** Wait after a bus exception (NACK) before the next resync attempt, ms. */
  nackBackoffMs: number;
  /** Resync: settle time after the reset and after the "\n", drain window, attempts. */
  resetSettleMs: number;
  drainMs: number;
  resyncAttempts: number;
}

/** The options in the order of TransportOptions, as the transport keeps them (a number array costs less RAM than named fields). */
export const enum O {
  Address, Mtu, GapMs, ChunkDelayMs, SegmentBytes, SegmentPauseMs, ReadDelayMs, PollMs, ReadGapMs, TurnBytes,
  ResponseTimeoutMs, GapTimeoutMs, NackBackoffMs, ResetSettleMs, DrainMs, ResyncAttempts
}

/**
 * The tuned default (inside the card's documented rules, without note-c's safety margins) with
 * the given overrides, as an array indexed by O.
 */
export function transportOptions(over?: Partial<TransportOptions>): number[] {
  var names = "address mtu gapMs chunkDelayMs segmentBytes segmentPauseMs readDelayMs pollMs readGapMs turnBytes responseTimeoutMs gapTimeoutMs nackBackoffMs resetSettleMs drainMs resyncAttempts".split(" ");
  var o = [0x17, 253, 1, 0, 250, 250, 0, 25, 0, 2048, 30000, 1000, 1000, 250, 500, 10], i: number, v: unknown;
  for (i = 0; i < names.length; i++) {
    v = over && (over as any)[names[i]];
    if (v !== undefined) o[i] = v as number;
  }
  if (!(o[O.Mtu] >= 1 && o[O.Mtu] <= 253)) throw fault("layout", "mtu must be 1..253");
  return o;
}

/** States; reading ones from Poll on, resync ones from Newline on. */
export const enum St { Write, Sent, Listen, Poll, More, Newline, Drain, DrainMore, Idle }

export interface Transport {
  _p: Ports;
  /** Options, indexed by O. */
  _o: number[];
  /**
   * Received line at [2, 2 + _len); the two bytes before it take each read's header. Writes are
   * sent from it too. Allocated when the bus is first used and held while its owner needs it
   * (see the client); _size bytes.
   */
  _rx: Uint8Array | null;
  _size: number;
  _hdr: Uint8Array;
  _st: St;
  /** The line being sent, and how far; a command expects no answer. */
  _out: string;
  _off: number;
  _seg: number;
  _cmd: boolean;
  _len: number;
  _polls: number;
  _t0: number;
  _last: number;
  _more: number;
  /** A read setup was sent and its read is due after readDelayMs. */
  _split: boolean;
  /** How long the card takes to start answering, learned: the first query goes out just then. */
  _expect: number;
  _tries: number;
  _errs: number;
  /** Resync drain: any bytes seen, bytes other than CR/LF seen. */
  _any: boolean;
  _other: boolean;
  /** The one timer callback: the next step, or _idle when nothing is under way. */
  _tick: () => void;
  /** Called once per transact/resync with null (line in _rx) or the failure; and when idle. Plain functions of the owner, not closures. */
  _done: (t: any, err: Fault | null) => void;
  _idle: (t: any) => void;
}

/** The transport's fields on `t` (its owner, the client, adds its own). */
export function createTransport(t: Transport, p: Ports, o: number[], rxBytes: number, idle: (t: any) => void, done: (t: any, err: Fault | null) => void) {
  t._p = p;
  t._o = o;
  t._size = Math.max(rxBytes, 254) + 2;
  t._hdr = new Uint8Array(2);
  t._expect = 0;
  t._idle = idle;
  t._done = done;
  t._tick = function () { wireStep(t); };
}

/** Runs _idle after ms. Only one timer is ever pending: callers schedule only when not already Idle. */
export function idle(t: Transport, ms: number) {
  t._st = St.Idle;
  later(t, ms);
}

/** Sends `line` (ending "\n"; "" = only read, e.g. after a heartbeat) and reads one line, unless `cmd`; or, with resync, resynchronises. */
export function transact(t: Transport, line: string, cmd: boolean, resync?: boolean) {
  if (!t._rx) t._rx = new Uint8Array(t._size);
  t._out = line;
  t._off = t._seg = t._tries = 0;
  t._cmd = cmd;
  t._st = resync ? St.Newline : line ? St.Write : St.Listen;
  if (resync) later(t, t._o[O.ResetSettleMs]);
  else wireStep(t);
}

function wireStep(t: Transport) {
  var o = t._o, p = t._p, st = t._st, now = p.clock(), r: Uint8Array, n: number;
  if (st === St.Idle) return t._idle(t);
  if (st === St.Sent) return t._done(t, null);
  // Only the bus calls are guarded (one guard, around the back-to-back reads too): what the
  // callbacks throw is theirs. The reads come first: Espruino lexes over whatever code a call
  // skips, and they are the hot path.
  var h = t._hdr, i2c = p.i2c, rx: Uint8Array, len = 0, got = 0, stop = 0, mtu: number, room: number, lim: number, a: number, b: number;
  try {
    if ((st < St.Poll || st === St.Newline) && (send(t, now) || (st = t._st) !== St.Poll)) return;
    n = st === St.More || st === St.DrainMore ? t._more : 0;
    if (!t._split) {
      h[0] = 0;
      h[1] = n;
      i2c.writeTo(o[O.Address], h);
      if (o[O.ReadDelayMs] > 0) {
        t._split = true;
        return later(t, o[O.ReadDelayMs]);
      }
    }
    t._split = false;
    r = read(t, n);
    if (st < St.Drain) {
      // The loop's invariants in locals, and the transport's fields written once after it: the
      // interpreter reads the loop's text again, and looks each name up again, on every read.
      // Set here, not above: the turns that only write or set up a read skip them.
      rx = t._rx as Uint8Array;
      len = t._len;
      mtu = o[O.Mtu];
      room = rx.length - 2;
      lim = o[O.ReadGapMs] > 0 || o[O.ReadDelayMs] > 0 ? 0 : o[O.TurnBytes];
      if (st === St.Poll && ++t._polls && r[0] > 0 && !len) {
        // Hit on the first query: try a little sooner next time; missed: the answer came within the
        // last poll interval.
        t._expect = t._polls === 1 ? t._expect * 0.9 : Math.max(0, now - t._t0 - o[O.PollMs] / 2);
      }
      // A read's n bytes appended: its two header bytes land on the two before them and are put
      // back, so no copy. While the card has more, reads on back to back (every library does) up
      // to turnBytes in this turn: a loop of natives, so the interpreter reads little text again
      // per read. Then the line is complete, late, or polled for again. Written here, not as a
      // function: terser makes a function called once an expression at its call, which the
      // interpreter builds again (copying its text, for code in RAM) every turn, and a function of
      // its own costs JsVars from require on.
      for (;;) {
        if (n > 0) {
          if (len + n > room) {
            stop = 1;
            break;
          }
          a = rx[len];
          b = rx[len + 1];
          rx.set(r, len);
          rx[len] = a;
          rx[len + 1] = b;
          len += n;
          got += n;
        }
        if (!r[0]) break;
        n = r[0] < mtu ? r[0] : mtu;
        if (got >= lim) {
          stop = 2;
          break;
        }
        // h[0] is still the 0 of the read setup above.
        h[1] = n;
        i2c.writeTo(o[O.Address], h);
        r = read(t, n);
      }
    }
  } catch (e) {
    if (st < St.Newline) return t._done(t, fault("io", "i2c: " + ((e as Error).message || e)));
    // A bus error while draining only costs a pause; a card that keeps failing costs the attempt.
    if (st >= St.Drain && ++t._errs <= 3) {
      t._st = St.Drain;
      return later(t, o[O.PollMs]);
    }
    return retrySync(t, o[O.NackBackoffMs]);
  }
  if (st >= St.Drain) return drained(t, r, now);
  t._len = len;
  if (got) t._last = now;
  if (stop === 1) return t._done(t, fault("io", "response larger than " + room! + " bytes"));
  if (stop === 2) {
    t._more = n;
    t._st = St.More;
    return later(t, o[O.ReadGapMs]);
  }
  // The line is complete when its "\n" has arrived and the card has nothing more to send.
  if (len && rx![len + 1] === 10) return t._done(t, null);
  if (len > 0 && now - t._last > o[O.GapTimeoutMs]) return t._done(t, fault("io", "timeout: transaction incomplete"));
  if (!len && now - t._t0 > o[O.ResponseTimeoutMs]) return t._done(t, fault("io", "timeout: no response"));
  t._st = St.Poll;
  later(t, o[O.PollMs]);
}

/** One read of n bytes and its header, [AVAIL, COUNT], checked. */
function read(t: Transport, n: number): Uint8Array {
  var r = t._p.i2c.readFrom(t._o[O.Address], n + 2);
  // [AVAIL, COUNT] and the count asked for: any other answer is a broken exchange.
  if (!r || r.length !== n + 2 || r[1] !== n || r[0] > 253) throw Error("bad read header");
  return r;
}

/**
 * The steps that are not reads: the next piece of the request, the resync's "\n", or the start of
 * listening for the answer. True when it scheduled the next step; false when a read is due now.
 */
function send(t: Transport, now: number): boolean {
  var o = t._o, p = t._p, rx = t._rx as Uint8Array, st = t._st, n: number, wait: number;
  if (st === St.Write) {
    // Nothing is being received while a request goes out: the receive buffer carries it.
    n = Math.min(o[O.Mtu], t._out.length - t._off);
    wait = o[O.GapMs] + o[O.ChunkDelayMs];
    rx[0] = n;
    p._put(rx, t._out.substr(t._off, n), 1);
    p.i2c.writeTo(o[O.Address], rx.subarray(0, n + 1));
    t._off += n;
    t._seg += n;
    if (t._seg >= o[O.SegmentBytes]) {
      t._seg = 0;
      wait += o[O.SegmentPauseMs];
    }
    // A command is done once sent and the gap has passed.
    if (t._off >= t._out.length) t._st = t._cmd ? St.Sent : St.Listen;
    later(t, wait);
    return true;
  }
  if (st === St.Newline) {
    t._hdr[0] = 1;
    t._hdr[1] = 10;
    p.i2c.writeTo(o[O.Address], t._hdr);
    t._st = St.Drain;
    t._t0 = now + o[O.ResetSettleMs];
    t._any = t._other = false;
    t._errs = 0;
    later(t, o[O.ResetSettleMs]);
    return true;
  }
  t._len = t._polls = 0;
  t._t0 = t._last = now;
  t._st = St.Poll;
  if (t._expect < 1) return false;
  later(t, t._expect);
  return true;
}

/** Resync drain: only CR/LF for drainMs means the card is in step with us. */
function drained(t: Transport, r: Uint8Array, now: number) {
  var o = t._o, avail = r[0];
  for (var i = 2; i < r[1] + 2; i++) {
    t._any = true;
    if (r[i] !== 10 && r[i] !== 13) {
      t._other = true;
      t._t0 = now;
    }
  }
  t._more = Math.min(avail, o[O.Mtu], 128);
  t._st = avail ? St.DrainMore : St.Drain;
  if (avail || now - t._t0 < o[O.DrainMs]) return later(t, avail ? 0 : 20);
  if (t._any && !t._other) return t._done(t, null);
  retrySync(t, 0);
}

function retrySync(t: Transport, wait: number) {
  if (++t._tries >= t._o[O.ResyncAttempts]) return t._done(t, fault("io", "resync failed"));
  t._st = St.Newline;
  later(t, wait);
}
