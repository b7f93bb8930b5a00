// Serial-over-I2C framing (notecard-protocol.md §2): data writes of <= MTU bytes behind a length
// byte, read setup [0x00, N] then read [AVAIL, COUNT, data...], polling until a "\n" has arrived
// and AVAIL is 0. One bus exchange per event-loop turn; received bytes are gathered into one
// preallocated buffer with native copies; the line end is a check of the last byte received.
import { Ports } from "../ports";
import { describe, LinkError, linkError } from "./errors";

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
  /** Pause between the read setup and the read, ms; 0 reads in the same turn (repeated start). */
  readDelayMs: number;
  /** Interval between data queries while the card has nothing to say, ms. */
  pollMs: number;
  /** Pause between reads while AVAIL > 0, ms. */
  readGapMs: number;
  /** Give up when no response byte arrived within this time, ms. */
  responseTimeoutMs: number;
  /** Give up when a started response goes silent this long, ms. */
  gapTimeoutMs: number;
  /** Wait after a bus exception (NACK) before the next attempt, ms. */
  nackBackoffMs: number;
  /** Resync: settle time after the reset and after the "\n", drain window, attempts. */
  resetSettleMs: number;
  drainMs: number;
  resyncAttempts: number;
  /** Receive buffer size: the largest response line accepted, bytes. */
  maxResponse: number;
}

/** Tuned default: stays inside the card's documented rules, without note-c's safety margins. */
export var TUNED: TransportOptions = {
  address: 0x17, mtu: 253, gapMs: 1, chunkDelayMs: 0, segmentBytes: 250, segmentPauseMs: 250,
  readDelayMs: 0, pollMs: 25, readGapMs: 0, responseTimeoutMs: 30000, gapTimeoutMs: 1000,
  nackBackoffMs: 1000, resetSettleMs: 250, drainMs: 500, resyncAttempts: 10, maxResponse: 6144
};

/** Where note-c with note-arduino on a generic Arduino (30-byte Wire buffer) differs: the conservative profile. */
export var NOTE_C: Partial<TransportOptions> = { mtu: 30, gapMs: 6, chunkDelayMs: 20, readDelayMs: 2, pollMs: 50 };

export type LineCallback = (err: LinkError | null, line?: string) => void;

export interface Transport {
  /** Sends `request` (bytes ending "\n"; null = only read, e.g. after a heartbeat) and reads one line. */
  transact(request: Uint8Array | null, cb: LineCallback): void;
  /** Sends `request` and reads nothing (a `cmd`). */
  send(request: Uint8Array, cb: (err: LinkError | null) => void): void;
  /** Resynchronises with the card: "\n", then drain until only CR/LF arrives (§2.7). */
  resync(cb: (err: LinkError | null) => void): void;
}

var CRLF = /[\r\n]/g;

export function createTransport(ports: Ports, o: TransportOptions): Transport {
  if (!(o.mtu >= 1 && o.mtu <= 253)) throw new Error("NotecardDFU: mtu must be 1..253");
  var i2c = ports.i2c;
  var tx = new Uint8Array(o.mtu + 1);
  var setupBuf = new Uint8Array(2);
  var rx = new Uint8Array(o.maxResponse);
  var newlineBuf = new Uint8Array([1, 10]);

  function later(fn: () => void, ms: number) {
    ports.timers.set(fn, ms);
  }

  function write(data: Uint8Array) {
    i2c.writeTo(o.address, data);
  }

  /** Read setup for `want` bytes; returns the raw [AVAIL, COUNT, data] or throws. */
  function setupRead(want: number) {
    setupBuf[1] = want;
    write(setupBuf);
  }
  function finishRead(want: number): Uint8Array {
    var r = i2c.readFrom(o.address, want + 2);
    if (!r || r.length !== want + 2) throw new Error("unexpected raw byte count");
    if (r[1] !== want) throw new Error("unexpected protocol byte count");
    if (r[0] > 253) throw new Error("unexpected available byte count");
    return r;
  }
  /** One read exchange, in this turn or split over two (readDelayMs), then `next(r)`. */
  function readExchange(want: number, fail: (e: unknown) => void, next: (r: Uint8Array) => void) {
    try { setupRead(want); } catch (e) { return fail(e); }
    if (o.readDelayMs > 0) return later(function () { completeRead(want, fail, next); }, o.readDelayMs);
    completeRead(want, fail, next);
  }
  function completeRead(want: number, fail: (e: unknown) => void, next: (r: Uint8Array) => void) {
    var r: Uint8Array;
    try { r = finishRead(want); } catch (e) { return fail(e); }
    next(r);
  }

  function writeAll(req: Uint8Array, fail: (e: unknown) => void, then: () => void) {
    var off = 0, segment = 0;
    function step() {
      var n = Math.min(o.mtu, req.length - off);
      tx[0] = n;
      tx.set(req.subarray(off, off + n), 1);
      try { write(tx.subarray(0, n + 1)); } catch (e) { return fail(e); }
      off += n;
      segment += n;
      var wait = o.gapMs + o.chunkDelayMs;
      if (segment >= o.segmentBytes) { segment = 0; wait += o.segmentPauseMs; }
      later(off < req.length ? step : then, wait);
    }
    step();
  }

  /** How long the card takes to start answering, learned: the first query goes out just then. */
  var expectMs = 0;

  function readLine(cb: LineCallback) {
    var len = 0, polls = 0, answered = false, more = 0;
    var started = ports.clock(), lastData = started;
    function fail(e: unknown) {
      cb(linkError("io", "i2c: " + describe(e) + " {io}"));
    }
    function received(r: Uint8Array) {
      var want = r[1], avail = r[0];
      var now = ports.clock();
      if (!answered && avail > 0) {
        answered = true;
        // Hit on the first query: try a little sooner next time; missed: the answer came within
        // the last poll interval.
        expectMs = polls === 1 ? expectMs * 0.9 : Math.max(0, now - started - o.pollMs / 2);
      }
      if (want > 0) {
        if (len + want > rx.length) return cb(linkError("io", "response larger than " + rx.length + " bytes {io}"));
        rx.set(r.subarray(2, 2 + want), len);
        len += want;
        lastData = now;
      }
      if (avail > 0) {
        more = Math.min(avail, o.mtu);
        return later(readMore, o.readGapMs);
      }
      // The line is complete when its "\n" has arrived and the card has nothing more to send.
      if (len && rx[len - 1] === 10) {
        var text = ports.natives.text(rx.subarray(0, len));
        var nl = text.indexOf("\n");
        // Anything after the first newline would be read as the next answer: flag it for a resync.
        var bad = nl < len - 1 && text.substr(nl + 1).replace(CRLF, "").length;
        return cb(bad ? linkError("io", "unexpected data after the response {io}") : null, text.substr(0, nl));
      }
      if (len > 0 && now - lastData > o.gapTimeoutMs) return cb(linkError("io", "timeout: transaction incomplete {io}"));
      if (len === 0 && now - started > o.responseTimeoutMs) return cb(linkError("io", "timeout: no response from Notecard {io}"));
      later(poll, o.pollMs);
    }
    function readMore() {
      readExchange(more, fail, received);
    }
    function poll() {
      polls++;
      readExchange(0, fail, received);
    }
    if (expectMs >= 1) later(poll, expectMs); else poll();
  }

  function transact(request: Uint8Array | null, cb: LineCallback) {
    if (!request) return readLine(cb);
    writeAll(request, function (e) { cb(linkError("io", "i2c: " + describe(e) + " {io}")); }, function () { readLine(cb); });
  }

  function send(request: Uint8Array, cb: (err: LinkError | null) => void) {
    writeAll(request, function (e) { cb(linkError("io", "i2c: " + describe(e) + " {io}")); }, function () { cb(null); });
  }

  function resync(cb: (err: LinkError | null) => void) {
    var attempt = 0;
    function retry(wait: number) {
      if (++attempt >= o.resyncAttempts) return cb(linkError("io", "failed to reset Notecard interface {io}"));
      later(sendNewline, wait);
    }
    function sendNewline() {
      try { write(newlineBuf); } catch (e) { return retry(o.nackBackoffMs); }
      later(drain, o.resetSettleMs);
    }
    function drain() {
      var windowStart = ports.clock(), sawAny = false, sawOther = false, errors = 0;
      // A bus error while draining only costs a pause; a card that keeps failing costs the attempt.
      function fail() {
        if (++errors > 3) return retry(o.nackBackoffMs);
        later(query, o.pollMs);
      }
      function got(r: Uint8Array) {
        var avail = r[0], n = r[1];
        if (n > 0) {
          sawAny = true;
          if (ports.natives.text(r.subarray(2, 2 + n)).replace(CRLF, "").length) {
            sawOther = true;
            windowStart = ports.clock();
          }
        }
        if (avail > 0) return later(function () { readExchange(Math.min(avail, o.mtu, 128), fail, got); }, 0);
        if (ports.clock() - windowStart < o.drainMs) return later(query, 20);
        if (sawAny && !sawOther) return cb(null);
        retry(0);
      }
      function query() { readExchange(0, fail, got); }
      query();
    }
    later(sendNewline, o.resetSettleMs);
  }

  return { transact: transact, send: send, resync: resync };
}
