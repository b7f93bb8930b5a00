// JSON client over the transport (notecard-protocol.md §3): adds the "crc" field (16-bit sequence +
// CRC-32 of the JSON), verifies the card's crc over the received bytes natively, retries io
// failures with a resync, and keeps one request on the bus at a time. A long "payload" is never
// copied for the update loop: only the JSON around it is parsed, and payload() decodes it in place.
import { fault, Fault } from "../errors";
import { Ports } from "../ports";
import { createTransport, idle, St, transact, Transport } from "./i2c-transport";

export type Response = { [key: string]: any };
export type ResponseCallback = (err: Fault | null, rsp?: Response) => void;

/** The client is its transport too: one object, one timer callback. */
export interface Client extends Transport {
  /** Waiting jobs: request object, callback, flags, in turn. */
  _q: any[];
  /** The job on the bus: request, callback, flags (1: a command, no answer; 2: leave a payload in place). */
  _req: Response | null;
  _cb: ResponseCallback;
  _flags: number;
  _seq: number;
  /** The card has answered with a crc: from then on a missing crc is an error. */
  _crc: boolean;
  /** The stream is in doubt: resync before the next request. */
  _sync: boolean;
  _try: number;
  _retries: number;
  _retryMs: number;
  /** The receive buffer is kept between requests (an update cycle runs); else it goes when the queue is empty. */
  _hold: boolean;
  /** Where the last response's payload lies in the receive buffer, or -1. */
  _pay: number;
  _payEnd: number;
}

/** Inserts `,"crc":"SSSS:CCCCCCCC"` before the final brace (a space instead of the comma for `{}`). */
export function addCrc(json: string, seq: number, crc: number): string {
  var h = (0x10000 + seq).toString(16).substr(1) + ":" + ("0000000" + (crc >>> 0).toString(16)).substr(-8);
  return json.substr(0, json.length - 1) + (json === "{}" ? " " : ",") + '"crc":"' + h.toUpperCase() + '"}';
}

export function createClient(p: Ports, o: number[], rxBytes: number, retries: number, retryMs: number): Client {
  var c = { _q: [], _req: null, _seq: 0, _crc: false, _sync: true, _retries: retries, _retryMs: retryMs, _pay: -1 } as any as Client;
  createTransport(c, p, o, rxBytes, go, onWire);
  return c;
}

/** Starts the next job, or the current one again (a retry). */
function go(c: Client) {
  if (!c._req) {
    if (!c._q.length) return;
    c._req = c._q.shift();
    c._cb = c._q.shift();
    c._flags = c._q.shift();
    c._try = 0;
  }
  if (c._sync) return transact(c, "", false, true);
  var json = JSON.stringify(c._req);
  transact(c, (c._flags & 1 ? json : addCrc(json, c._seq, c._p._crc32(json))) + "\n", !!(c._flags & 1));
}

/** Queues a request; cb(err, response). flags: 1 a command (no answer), 2 leave the payload in place. */
export function request(c: Client, req: Response, cb: ResponseCallback, flags?: number) {
  c._q.push(req, cb, flags || 0);
  // One pending timer at most: none is while the transport is not already idle.
  if (!c._req && c._st !== St.Idle) idle(c, 0);
}

function finish(c: Client, err: Fault | null, rsp?: Response) {
  var cb = c._cb;
  c._seq = (c._seq + 1) & 0xffff;
  // A card error is a clean exchange; only a broken one leaves the stream in doubt.
  if (err && err.code === "io") c._sync = true;
  c._req = null;
  if (c._q.length) idle(c, 0);
  cb(err, rsp);
  release(c);
}

/** Gives the receive buffer back to the application when nothing needs it (after the callback has read it). */
export function release(c: Client) {
  if (!c._hold && !c._req && !c._q.length) c._rx = null;
}

function onWire(c: Client, err: Fault | null) {
  var rsp: Response, e: string;
  if (!err && c._sync) {
    c._sync = false;
    return go(c);
  }
  if (!err && c._flags & 1) return finish(c, null);
  if (!err) {
    try { rsp = parse(c); } catch (x) { err = fault("io", (x as Error).message || String(x)); }
  }
  if (!err) {
    e = rsp!.err;
    if (typeof e !== "string") {
      return finish(c, null, rsp!);
    }
    if (e.indexOf("{heartbeat}") >= 0) return transact(c, "", false);
    err = fault("card", e);
    (err as any).response = rsp!;
    // {io} is worth a retry, unless the card says it will never do it.
    if (e.indexOf("{io}") < 0 || e.indexOf("{not-supported}") >= 0) return finish(c, err);
    err.code = "io";
  }
  c._sync = true;
  if (++c._try > c._retries) return finish(c, err);
  idle(c, c._retryMs);
}

/**
 * The response in the receive buffer as an object, its crc checked; an update chunk's payload (flag
 * 2) is left where it is (its value reads "") and located in _pay.._payEnd. Throws what is wrong
 * with the line.
 */
function parse(c: Client): Response {
  var rx = c._rx as Uint8Array, s = c._p._text(rx), end = c._len + 2, crc = -1, at = 0, rsp: Response | null = null;
  var nl = -1, err = -1, pay = -1, q = -1, j: string;
  // Text and CRC work on the buffer's own bytes: s is rx itself on Espruino. The line ends "\r\n".
  if (s.charCodeAt(end - 1) === 10) end--;
  if (s.charCodeAt(end - 1) === 13) end--;
  at = end - 23;
  var field = at >= 2 && s.charCodeAt(end - 1) === 125 && (s.substr(at, 8) === ',"crc":"' || (at === 3 && s.substr(at, 8) === ' "crc":"'));
  // An update chunk, {"payload":"…",…}: the payload's end is where the length asked for puts it,
  // and only the JSON around it is searched (a search costs the interpreter about as much per
  // character as decoding); payload() proves the text between is base64 alone.
  if (c._flags & 2 && s.substr(2, 12) === '{"payload":"') {
    q = 14 + (((c._req as Response).length + 2) / 3 | 0) * 4;
    if (q < end && s.charCodeAt(q) === 34) {
      j = s.substring(2, 14) + s.substring(q, end);
      if (j.indexOf("\n") < 0 && j.indexOf('"err":"') < 0) pay = 3;
    }
  }
  if (pay < 0) {
    // Searched in the line alone: s is the whole buffer, and a search that finds nothing reads it all.
    j = s.substring(2, end);
    nl = j.indexOf("\n") + 2;
    err = j.indexOf('"err":"') + 2;
    // Only an update chunk's payload is left in place; any other is parsed with the rest.
    if (c._flags & 2) {
      pay = j.indexOf('"payload":"') + 2;
      if (pay >= 2) q = j.indexOf('"', pay + 9) + 2;
    }
  }
  // Anything after the first newline would be read as the next answer: flag it for a resync.
  if (nl >= 2 && nl < end) throw Error("data after the response");
  if (field) {
    var seq = parseInt(s.substr(at + 8, 4), 16);
    crc = parseInt(s.substr(at + 13, 8), 16);
    // The crc covers the JSON without the field: for a moment the field's first byte is the "}".
    var keep = rx[at];
    rx[at] = 125;
    var ok = c._p._crc32(rx.subarray(2, at + 1)) === crc;
    rx[at] = keep;
    c._crc = true;
    // Card errors are not CRC errors: only when the crc does not check out, look for `err`.
    if (err < 2 || err >= at) {
      if (seq !== c._seq) throw Error("response to another request");
      if (!ok) throw Error("CRC error");
    }
    end = at;
  } else if (c._crc && (err < 2 || err >= end)) throw Error("CRC missing");
  c._pay = -1;
  if (pay >= 2 && pay < end) {
    if (q < 2 || q >= end) throw Error("corrupt response");
    c._pay = pay + 11;
    c._payEnd = q;
    s = s.substring(2, pay + 11) + s.substring(q, end);
  } else s = s.substring(2, end);
  try { rsp = JSON.parse(crc >= 0 ? s + "}" : s); } catch (e) { /* reported below */ }
  if (!rsp || typeof rsp !== "object") throw Error("corrupt response");
  return rsp;
}

/**
 * Decodes the last response's payload in place: the bytes around it become spaces (which atob
 * skips) and the six bytes `prefix` are encoded just before it, so the result is prefix ‖ payload
 * from one native pass over the buffer. Returns it, or what is wrong with its length. Espruino's
 * atob decodes a stray character as a zero byte: the line's crc (or, without it, the chunk's MD5)
 * has already vouched for the text, and the whole image's CRC-32 is checked before it can boot.
 */
export function payload(c: Client, prefix: string, n: number): string | Fault {
  var nat = c._p, rx = c._rx as Uint8Array, a = c._pay, s: string;
  if (a < 0) return fault("io", "no payload");
  // fill() visits every element of the array it is called on: only the bytes to blank.
  rx.subarray(0, a).fill(32);
  rx.subarray(c._payEnd).fill(32);
  nat._put(rx, nat._btoa(prefix), a - 8);
  s = nat._atob(nat._text(rx));
  return s.length !== n + 6 || c._payEnd - a + 8 !== ((n + 8) / 3 | 0) * 4 ? fault("io", "payload is " + (s.length - 6) + " bytes, asked for " + n) : s;
}
